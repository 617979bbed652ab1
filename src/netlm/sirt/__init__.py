"""90Y radioembolization planning: compartment models, devices and vials, decay,
radiobiology, cumulative dose and safety limits."""

"""90Y radioembolization planning: compartment models (BSA, MIRD, partition), devices
and vials, decay, radiobiology, cumulative dose and safety limits, the plan file
(``netlm/sirt-plan/v1``) and the planner that solves it."""

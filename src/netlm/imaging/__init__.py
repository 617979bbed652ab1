"""Image adapters: reading medical images and masks (DICOM, NIfTI, NRRD, RT Struct,
SEG) into :class:`netlm.volume.ImageVolume` in one LPS convention; the activity at
implant of an activity image; writing RT Dose, SEG, the dose and response SRs and
Encapsulated PDF; rigid registration with its check image; image size limits."""

"""Image adapters: reading medical images and masks (DICOM, NIfTI, NRRD, RT Struct,
SEG) into :class:`netlm.volume.ImageVolume` in one LPS convention; writing RT Dose."""

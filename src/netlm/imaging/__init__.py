"""Reading medical images and masks into one LPS convention; writing RT Dose."""

"""How credentials leave shellvault: environment changes and the formats that carry them."""

"""The Faust app: one module per stage, thin adapters over ``core`` and ``stats``."""

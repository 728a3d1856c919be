"""Response-time SLAs: what is measured, how it is summed over windows, and how it is shown."""

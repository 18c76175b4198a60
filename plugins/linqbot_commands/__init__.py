"""Commands: people type `weather paris` or `/weather paris`; arguments parsed from the handler signature."""

"""The pytest plugin (registered under pytest11) exposing linqbot fixtures."""

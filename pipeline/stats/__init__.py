"""Statistics: pure aggregation of action records into Stat Server statistics.

``model`` holds the configuration types; ``config`` loads and validates them from YAML (one module
per section) and needs nothing from the engine; the engine consumes action records in order with an
explicit clock and answers values / notifications.
"""

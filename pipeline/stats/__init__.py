"""Statistics: pure aggregation of action records into Stat Server statistics.

``model`` holds the configuration types shared by the YAML loader and the engine; the engine
consumes action records in order with an explicit clock and answers values / notifications.
"""

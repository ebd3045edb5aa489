"""Records that cross stage boundaries: reporting events, action records, statistic values,
dead letters; their validation and their Avro / JSON Lines codecs.

In memory every record is a plain ``dict`` keyed by Genesys's attribute names, and every time is an
``int`` of epoch milliseconds (UTC). Codecs convert at the edges.
"""

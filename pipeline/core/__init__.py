"""The pure domain core: no Kafka, no Faust, no I/O, no wall clock.

``interactions`` (stage 1, state per InteractionID) turns interaction events into Queue actions and
per-agent bundles of interaction actions; ``agents`` (stage 2, state per Tenant/Agent) applies agent
events and those bundles, keeps media state and capacity, and emits every Agent and Place action;
``ordering`` is the reorder window between them; ``driver`` wires them for replay and tests.
All state is plain JSON-serialisable data so a Faust RocksDB table can hold it.
"""

"""Names the product speaks: events, actions with their kinds, statuses, categories.

Spelled exactly as Genesys spells them (the seed page, events.md, actions.md, statistics.md),
because users search for them.
"""

from __future__ import annotations

DURABLE, MOMENTARY, RETROSPECTIVE = "Durable", "Momentary", "Retrospective"

#: Agent/Place actions from the seed page, with their kind.
AGENT_ACTIONS: dict[str, str] = {
    # durable, non-interaction-related
    "Active": DURABLE,
    "Available": DURABLE,
    "Blocked": DURABLE,
    # durable, interaction-related (DoNotDisturb / Routable / NotRoutable are agent state)
    "Delivering": DURABLE,
    "DoNotDisturb": DURABLE,
    "Handling": DURABLE,
    "HandlingInbound": DURABLE,
    "HandlingInternal": DURABLE,
    "HandlingOutbound": DURABLE,
    "NotRoutable": DURABLE,
    "Routable": DURABLE,
    # momentary
    "BeingCoached": MOMENTARY,
    "BeingMonitored": MOMENTARY,
    "CoachingByIntrusionInitiated": MOMENTARY,
    "CoachingRequested": MOMENTARY,
    "ConferenceJoined": MOMENTARY,
    "ConferenceJoinedByIntrusion": MOMENTARY,
    "ConferenceMade": MOMENTARY,
    "DeliveringStarted": MOMENTARY,
    "HandlingInboundStarted": MOMENTARY,
    "HandlingInternalStarted": MOMENTARY,
    "HandlingOutboundStarted": MOMENTARY,
    "HandlingStarted": MOMENTARY,
    "InteractionResponded": MOMENTARY,
    "MonitoringInitiated": MOMENTARY,
    "Pulled": MOMENTARY,
    "StartedInternal": MOMENTARY,
    "StartedOutbound": MOMENTARY,
    "TransferMade": MOMENTARY,
    "TransferTaken": MOMENTARY,
    # retrospective
    "Accepted": RETROSPECTIVE,
    "CoachingByRequestInitiated": RETROSPECTIVE,
    "InteractionAbandonedDuringOffering": RETROSPECTIVE,
    "Rejected": RETROSPECTIVE,
    "Revoked": RETROSPECTIVE,
    "StoppedInbound": RETROSPECTIVE,
    "StoppedInternal": RETROSPECTIVE,
    "StoppedOutbound": RETROSPECTIVE,
}

#: Queue (StagingArea) actions.
QUEUE_ACTIONS: dict[str, str] = {
    "InteractionEntered": MOMENTARY,
    "Waiting": DURABLE,
    "InteractionDistributed": RETROSPECTIVE,
    "InteractionCleared": RETROSPECTIVE,
    "InteractionDistributedToQueue": RETROSPECTIVE,
    "InteractionDeleted": RETROSPECTIVE,
}

ACTION_KINDS: dict[str, str] = {**AGENT_ACTIONS, **QUEUE_ACTIONS}

#: Agent-state actions: never carry an InteractionID; identified by (object, action, MediaTypeID).
AGENT_STATE_ACTIONS = frozenset(
    {"Active", "Available", "Blocked", "Routable", "NotRoutable", "DoNotDisturb"}
)

#: Statuses, low → high priority (actions.md §3). ``LoggedOut`` is above all.
STATUSES: tuple[str, ...] = (
    "NotMonitored",
    "Active",
    "Available",
    "Delivering",
    "Blocked",
    "HandlingInternal",
    "HandlingOutbound",
    "HandlingInbound",
    "LoggedOut",
)

INTERACTION_EVENTS = frozenset(
    {
        "EventInteractionSubmitted",
        "EventPropertiesChanged",
        "EventAgentInvited",
        "EventPartyAdded",
        "EventPartyRemoved",
        "EventRejected",
        "EventRevoked",
        "EventProcessingStopped",
        "EventPlacedInQueue",
        "EventTakenFromQueue",
        "EventPlacedInWorkbin",
        "EventTakenFromWorkbin",
        "EventHeld",
        "EventResumed",
    }
)

AGENT_EVENTS = frozenset(
    {
        "EventAgentLogin",
        "EventAgentLogout",
        "EventMediaAdded",
        "EventMediaRemoved",
        "EventNotReadyForMedia",
        "EventReadyForMedia",
        "EventDoNotDisturbOn",
        "EventDoNotDisturbOff",
        "EventAgentStateReasonChanged",
        "EventMediaStateReasonChanged",
        "EventPlaceAgentState",
    }
)

#: Accepted and ignored (counted).
IGNORED_EVENTS = frozenset({"EventCustomReporting"})

ALL_EVENTS = INTERACTION_EVENTS | AGENT_EVENTS | IGNORED_EVENTS

INTERACTION_TYPES = ("Inbound", "Outbound", "Internal")
PARTY_TYPES = ("Agent", "Strategy", "MediaServer", "Queue", "Unknown")
OPERATIONS = ("Route", "Transfer", "Conference", "CoachRequest", "Intrude", "Pull", "Submit")
VISIBILITIES = ("Conference", "Coach", "Monitor")

#: Stat Server categories (statistics.md), with the unit of their value.
CATEGORIES: dict[str, str] = {
    "CurrentNumber": "count",
    "CurrentTime": "seconds",
    "CurrentMaxTime": "seconds",
    "CurrentMinTime": "seconds",
    "CurrentAverageTime": "seconds",
    "CurrentRelativeNumberPercentage": "percent",
    "CurrentNumberInTimeRange": "count",
    "CurrentNumberInTimeRangePercentage": "percent",
    "CurrentContinuousTime": "seconds",
    "CurrentState": "state",
    "CurrentStateReasons": "state",
    "TotalNumber": "count",
    "TotalTime": "seconds",
    "TotalAdjustedNumber": "count",
    "TotalAdjustedTime": "seconds",
    "AverageTime": "seconds",
    "MaxTime": "seconds",
    "MinTime": "seconds",
    "MaxNumber": "count",
    "MinNumber": "count",
    "AverageOfCurrentNumber": "count",
    "AverageNumberPerRelativeHour": "count",
    "ElapsedTimePercentage": "percent",
    "RelativeNumberPercentage": "percent",
    "RelativeTimePercentage": "percent",
    "TotalNumberInTimeRange": "count",
    "TotalTimeInTimeRange": "seconds",
    "TotalNumberInTimeRangePercentage": "percent",
    "TotalNumberPerSecond": "count",
}

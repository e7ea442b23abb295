"""Writers of the inbox, one module per concern:
``messages`` (inbound apply, outbound create + send, provider statuses), ``turns`` (debounce and the
turn hook), ``bot`` (bot state and hand-off), ``sweeps`` (beat re-enqueueing),
``conversations`` (assignment, status, read marks), ``canned`` (canned replies)."""

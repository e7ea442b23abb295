"""Thin task wrappers of the inbox (logic in services). All run in the schema they were sent from.
No results are stored (``ignore_result``): nothing waits on them, and sending one then never
touches the result backend, so a dead Redis fails the send at once instead of hanging."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="inbox.send_message", bind=True, max_retries=6, ignore_result=True)
def send_message(self, message_id: int) -> str:
    """Deliver one outbound message exactly once; provider 5xx/timeouts retry with backoff."""
    from apps.whatsapp.providers.base import TemporaryProviderError

    from .services import messages

    try:
        return messages.message_deliver(message_id)
    except TemporaryProviderError as exc:
        if self.request.retries >= self.max_retries:
            messages.message_fail(message_id, reason=str(exc) or "provider unavailable")
            return "failed"
        countdown = messages.send_retry_delay(self.request.retries)
        messages._mark_pending(message_id, countdown)
        raise self.retry(exc=exc, countdown=countdown, retry=False)


@shared_task(name="inbox.run_turn", ignore_result=True, max_retries=0)
def run_turn(conversation_id: int) -> None:
    """Run the conversation's debounced turn if it is due (a duplicate finds nothing to do)."""
    from .services.turns import turn_run

    turn_run(conversation_id)


# No retries: the next beat tick (every 15 s) is the retry.
@shared_task(name="inbox.sweep", ignore_result=True, max_retries=0)
def sweep() -> dict:
    """Beat (through core.fan_out, per tenant): re-enqueue whatever the message path left behind."""
    from .services.sweeps import sweep_all

    return sweep_all()

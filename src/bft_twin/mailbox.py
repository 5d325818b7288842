"""Who would receive each message published in the offline world: the e-mail subscriptions of its topics,
each message checked against the subscription's filter policy as SNS checks it (moto's matcher)."""

from __future__ import annotations

import json
from typing import Any


def email_deliveries(account_id: str, region: str) -> dict[str, list[dict[str, Any]]]:
    """E-mail address -> the messages (subject, message, attributes) its subscriptions let through, in order."""
    from moto.sns import sns_backends
    from moto.sns.utils import FilterPolicyMatcher

    backend = sns_backends[account_id][region]
    inbox: dict[str, list[dict[str, Any]]] = {}
    for subscription in backend.subscriptions.values():
        if subscription.protocol not in ("email", "email-json"):
            continue
        policy = subscription.attributes.get("FilterPolicy")
        matcher = FilterPolicyMatcher(
            json.loads(policy) if policy else {}, subscription.attributes.get("FilterPolicyScope")
        )
        mails = inbox.setdefault(subscription.endpoint, [])
        for _id, message, subject, attributes, _group in subscription.topic.sent_notifications:
            if matcher.matches(attributes or {}, message):
                mails.append({"subject": subject, "message": message, "attributes": attributes or {}})
    return inbox

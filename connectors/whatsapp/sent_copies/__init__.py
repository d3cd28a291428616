"""Sealed copies of sent replies, so a failed delivery Meta reports later can be retried.

copies.py (the record, sealing, keyed references, the protocol and :class:`SentCopyBook`),
memory_store.py (in-process, bounded), redis_store.py (shared, with a TTL), factory.py (the store
for ``WHATSAPP_DEDUP_URL``). docs/whatsapp-delivery.md, "Delivery statuses".
"""

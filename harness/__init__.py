"""Drivers and process control: what plays Meta's and the user's side against the assistant.

Why apart from ``standins/``: a stand-in is a fake *server* that answers like an outside service
(Meta's Graph API, the job API, the LLM); the modules here *drive* the assistant or the machine
instead. They build and sign Meta's webhooks (``meta_payloads``, ``webhook_sender``), deliver
them at least once to a pool of instances (``meta_delivery``), chat from a terminal (``chat``),
start the whole assistant as processes (``local_stack``) or private database servers
(``private_services``), and scan stores for personal data at rest (``at_rest``). They may use
the stand-ins; a stand-in never imports from here.
"""

__all__: list[str] = []

"""A local web preview of the assistant as WhatsApp shows it, for conversation designers (issue 15).

Why: what a designer writes in domain.yml is not what a job seeker sees (buttons become lists,
titles are cut, long texts split). The terminal chat (harness/chat.py) prints "[1] …" lines; this
package serves pages on loopback that show the bot's replies as the phone would, drive the real
path (signed webhooks to Rasa, replies through the Graph API stand-in) and show, per turn, what
Rasa understood and did.

``python -m preview`` (``make run``) runs one process that hosts the Graph API stand-in
(standins/meta_graph/) and the web server. Modules, by what they do: ``guard`` (loopback only,
never with real Meta credentials), ``cli`` (options, start and stop), ``server`` (the pages and
the JSON API), ``messages`` (a page action as the inbound message Meta would send), ``sessions``
(the two people a designer plays and what each saw), ``events`` (the stand-in's traffic routed to
those sessions as server-sent events), ``inspector`` (the turns Rasa stored, read from the
encrypted tracker store), ``gallery`` (every response rendered). Nothing imports this package.
"""

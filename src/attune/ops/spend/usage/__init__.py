"""Claude Code usage per project, session, day and model, estimated from local transcripts.

``sources`` finds the transcripts, ``lines`` reads one line's usage (never its content),
``reader`` reads a file from where it was left, ``ingest`` copies usage rows into the store,
``pricing`` prices them with genai-prices, ``report`` and ``blocks`` build the DESIGN §10
object, ``reconcile`` sets it beside the billed "Claude Code" workspace, ``service`` runs the
ingest in the background for the dashboard.
"""

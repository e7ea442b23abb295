"""Writers of the whatsapp app, one module per concern:
``connections`` (create, connect, QR, status, delete), ``ingest`` (store webhook items, process them),
``templates`` (Cloud API template sync)."""

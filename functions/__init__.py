"""Code that runs inside the cloud function: cloud-neutral apps (echo, model) and the AWS/GCP adapters.

Nothing here imports pulumi or smodels, and only the standard library is imported at package import, so
an echo archive (``__init__``, ``http``, ``echo`` + adapter) works without numpy or a model runtime.
"""

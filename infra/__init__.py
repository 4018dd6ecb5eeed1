"""Pulumi ComponentResources of serverless-models (aws.py, gcp.py) and the seam to the packager (artifacts.py)."""

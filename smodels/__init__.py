"""serverless-models: build, serve locally and invoke model endpoints declared by the Pulumi program."""

__version__ = "0.1.0"

"""Pipeline: small stages applied to every sample between the collector and the buffer.

Order: scale (raw -> engineering units), quality (non-finite -> BAD, out of range ->
UNCERTAIN), deadband (suppress unchanged values, with a heartbeat).
"""

from gateway.pipeline.chain import Pipeline, Stage, build_pipeline, plain

__all__ = ["Pipeline", "Stage", "build_pipeline", "plain"]

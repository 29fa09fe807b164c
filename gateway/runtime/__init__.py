"""Runtime: wiring collectors, pipeline, buffers, forwarders and sinks together."""

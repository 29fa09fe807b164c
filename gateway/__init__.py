"""plc-gateway: Modbus and OPC UA tags to InfluxDB, quality-flagged and timestamped."""

__version__ = "0.1.0"

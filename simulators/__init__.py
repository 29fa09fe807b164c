"""Software PLCs that behave like the plant: Modbus TCP and OPC UA servers over a process model."""

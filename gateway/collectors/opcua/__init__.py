"""OPC UA collector (asyncua)."""

# A simulated fleet of worker nodes for scale benchmarks (fleet/fleet.h).
SRC += src/fleet/fleet.c src/fleet/fleet_engine.c

"""The lfx-cal command line and the wiring of feeds, notifiers and scheduler."""

"""Timeline engine: term documents to timezone-aware events and iCalendar feeds."""

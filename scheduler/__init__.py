"""Reminder daemon: schedules and sends deadline reminders (see issue 4)."""

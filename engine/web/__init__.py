"""The web app of `rostering-advisor serve`: questionnaire, rule playground, JSON API (see app)."""

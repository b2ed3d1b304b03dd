"""`rostering-advisor ask`: the interactive questionnaire (`interview`) and its prompts (`prompts`)."""

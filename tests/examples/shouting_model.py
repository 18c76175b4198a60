"""A stand-in model for the ASSISTANT_MODEL test: any importable `async def answer(prompt) -> str` will do."""


async def answer(prompt: str) -> str:
    return prompt.upper() + "!"

"""Flows end to end: ``state=`` handlers, ``ctx.set_state``/``clear_state``, chat and person state, restarts."""

from __future__ import annotations

from pathlib import Path

import pytest
from linqbot_state import NO_STATE, MemoryStore, SqliteStore, StateContext, StateStore, StateStoreError, runtime_of

from linqbot import Bot, Context
from linqbot.emulator import Emulator
from linqbot.middleware import Safeguards
from linqbot.plugins import hookimpl
from linqbot.testing import simulate
from tests.state.conftest import StoreFactory

pytestmark = pytest.mark.usefixtures("linq_env")

QUIET = Safeguards.off()
"""These bots answer at machine speed on purpose; deliverability safeguards are tested elsewhere."""

ANN = "+15550100002"
BEN = "+15550100003"


def signup_bot(store: StateStore) -> Bot:
    """A sign-up flow: start → ask_name → ask_age → done, with help available at any step."""
    bot = Bot(env_file=None, plugins="state", safeguards=QUIET)
    bot.state_store = store  # type: ignore[attr-defined]

    @bot.on_message(text="help")
    async def help_(ctx: StateContext) -> None:
        await ctx.reply(f"You are at step {ctx.current_state or 'none'}.")

    @bot.on_message(text="start", state=NO_STATE)
    async def start(ctx: StateContext) -> None:
        await ctx.set_state("ask_name")
        await ctx.reply("Your name?")

    @bot.on_message(state="ask_name")
    async def got_name(ctx: StateContext) -> None:
        await ctx.state.set("name", ctx.text)
        await ctx.set_state("ask_age")
        await ctx.reply(f"Your age, {ctx.text}?")

    @bot.on_message(state="ask_age", regex=r"^\d+$")
    async def got_age(ctx: StateContext) -> None:
        name = await ctx.state.get("name")
        await ctx.clear_state()
        await ctx.reply(f"Thanks {name}, {ctx.text}.")

    @bot.on_message(state="ask_age")
    async def bad_age(ctx: StateContext) -> None:
        await ctx.reply("Please send your age as a number.")

    @bot.on_message(state="*")
    async def in_some_flow(ctx: StateContext) -> None:
        await ctx.reply(f"(in flow {ctx.current_state})")

    @bot.on_message()
    async def anything(ctx: StateContext) -> None:
        await ctx.reply(f"echo: {ctx.text}")

    return bot


async def converse(user: object, lines: list[str]) -> list[str]:
    said = []
    for line in lines:
        await user.send(line)  # type: ignore[attr-defined]
        said.append((await user.expect_reply()).text)  # type: ignore[attr-defined]
    return said


async def test_a_flow_moves_through_its_states_on_every_backend(store: StateStore) -> None:
    async with simulate(signup_bot(store)) as sim:
        ann = sim.user(ANN)
        said = await converse(ann, ["hi", "start", "help", "Ann", "old", "34", "start", "help"])
    assert said == [
        "echo: hi",
        "Your name?",
        "You are at step ask_name.",  # a handler without state= runs whatever the state
        "Your age, Ann?",
        "Please send your age as a number.",
        "Thanks Ann, 34.",
        "Your name?",
        "You are at step ask_name.",
    ]


async def test_each_person_in_a_group_has_their_own_flow() -> None:
    async with simulate(signup_bot(MemoryStore())) as sim:
        ann, ben = sim.user(ANN), sim.user(BEN)
        chat_id = str((await ann.send("start", group=[BEN]))["chat_id"])
        assert (await ann.expect_reply()).text == "Your name?"
        await ben.expect_reply()
        await ben.send("hello", chat_id=chat_id)
        assert (await ben.expect_reply()).text == "echo: hello"
        await ann.expect_reply()
        await ann.send("Ann", chat_id=chat_id)
        assert (await ann.expect_reply()).text == "Your age, Ann?"


async def test_a_flow_abandoned_past_its_ttl_starts_over(clock: object) -> None:
    from tests.state.conftest import FakeClock

    assert isinstance(clock, FakeClock)
    bot = Bot(env_file=None, plugins="state", safeguards=QUIET)
    bot.state_store = MemoryStore(clock=clock)  # type: ignore[attr-defined]

    @bot.on_message(text="quiz", state=NO_STATE)
    async def quiz(ctx: StateContext) -> None:
        await ctx.set_state("quiz", ttl=300)
        await ctx.reply("2 + 2?")

    @bot.on_message(state="quiz")
    async def answer(ctx: StateContext) -> None:
        await ctx.clear_state()
        await ctx.reply("right" if ctx.text == "4" else "wrong")

    @bot.on_message()
    async def idle(ctx: StateContext) -> None:
        await ctx.reply("send quiz to play")

    async with simulate(bot) as sim:
        ann = sim.user(ANN)
        assert await converse(ann, ["quiz", "4"]) == ["2 + 2?", "right"]
        await converse(ann, ["quiz"])
        clock.advance(301)
        assert await converse(ann, ["4"]) == ["send quiz to play"]


async def test_person_state_follows_the_person_across_chats_and_chat_state_stays_in_its_chat() -> None:
    bot = Bot(env_file=None, plugins="state", safeguards=QUIET)
    bot.state_store = MemoryStore()  # type: ignore[attr-defined]

    @bot.on_message(startswith="remember ")
    async def remember(ctx: StateContext) -> None:
        drink = ctx.text.removeprefix("remember ")
        await ctx.person_state.set("drink", drink)
        await ctx.state.set("drink", drink)
        await ctx.reply("noted")

    @bot.on_message(text="recall")
    async def recall(ctx: StateContext) -> None:
        await ctx.reply(f"you: {await ctx.person_state.get('drink')}, here: {await ctx.state.get('drink')}")

    async with simulate(bot) as sim:
        ann = sim.user(ANN)
        assert await converse(ann, ["remember tea", "recall"]) == ["noted", "you: tea, here: tea"]
        await ann.send("recall", group=[BEN])
        assert (await ann.expect_reply()).text == "you: tea, here: None"


async def test_counting_from_many_chats_at_once_loses_no_increment(store: StateStore) -> None:
    bot = Bot(env_file=None, plugins="state", safeguards=QUIET)
    bot.state_store = store  # type: ignore[attr-defined]

    @bot.on_message(text="count")
    async def count(ctx: StateContext) -> None:
        await ctx.person_state.update(lambda s: {**s, "n": s.get("n", 0) + 1})
        await store.update("global", lambda s: {**s, "n": s.get("n", 0) + 1})

    people = [f"+1555010{n:04d}" for n in range(20)]
    async with simulate(bot) as sim:
        for handle in people:
            for _ in range(3):
                await sim.user(handle).send("count")
        await sim.idle()
        assert await store.get("global", "n") == 60
        assert [await store.person(h).get("n") for h in people] == [3] * 20


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_flow_set_before_a_restart_continues_after(make_store: StoreFactory) -> None:
    async with Emulator() as emulator:
        async with simulate(signup_bot(make_store()), emulator=emulator) as sim:
            ann = sim.user(ANN)
            assert await converse(ann, ["start"]) == ["Your name?"]
        # The bot stopped (its store closed); a new process starts on the same database.
        async with simulate(signup_bot(make_store()), emulator=emulator) as sim:
            ann = sim.user(ANN)
            await ann.send("Ann")
            replies = [reply.text for reply in await ann.expect_replies(2)]
            assert replies == ["Your name?", "Your age, Ann?"]  # the first was sent before the restart
            assert await converse(ann, ["34"]) == ["Thanks Ann, 34."]


class CountingStore(MemoryStore):
    """A memory store that counts reads, to show when the middleware touches the store."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def _read(self, scope: str) -> str | None:
        self.reads += 1
        return await super()._read(scope)


async def test_binding_state_reads_nothing_unless_a_handler_filters_by_state() -> None:
    bot = Bot(env_file=None, plugins="state", safeguards=QUIET)
    store = CountingStore()
    bot.state_store = store  # type: ignore[attr-defined]

    @bot.on_message()
    async def plain(ctx: StateContext) -> None:
        await ctx.reply(f"flow: {ctx.current_state}")

    async with simulate(bot) as sim:
        ann = sim.user(ANN)
        assert await converse(ann, ["a", "b"]) == ["flow: None", "flow: None"]
        assert store.reads == 0

        @bot.on_message(state="never", text="x")
        async def flow_handler(ctx: StateContext) -> None:
            raise AssertionError("not in that state")

        assert await converse(ann, ["c"]) == ["flow: None"]
        assert store.reads == 1  # the flow state, read once before routing


async def test_get_state_reads_the_flow_when_no_handler_filters_by_state() -> None:
    bot = Bot(env_file=None, plugins="state", safeguards=QUIET)
    bot.state_store = MemoryStore()  # type: ignore[attr-defined]

    @bot.on_message()
    async def branch(ctx: StateContext) -> None:
        state = await ctx.get_state()
        if state is None:
            await ctx.set_state("second")
            await ctx.reply("first message")
        else:
            await ctx.reply(f"then {ctx.current_state}")

    async with simulate(bot) as sim:
        assert await converse(sim.user(ANN), ["a", "b"]) == ["first message", "then second"]


async def test_the_middleware_is_named_and_removable() -> None:
    bot = Bot(env_file=None, plugins="state", safeguards=QUIET)
    assert "state" in bot.outer_middleware
    bot.outer_middleware.remove("state")

    @bot.on_message()
    async def check(ctx: Context) -> None:
        await ctx.reply(f"has state: {hasattr(ctx, 'state')}")

    async with simulate(bot) as sim:
        assert await converse(sim.user(ANN), ["hi"]) == ["has state: False"]


def test_state_filter_values_are_checked_when_the_handler_is_declared() -> None:
    bot = Bot(env_file=None, plugins="state", safeguards=QUIET)
    with pytest.raises(TypeError, match="state= takes"):
        bot.on_message(state=[1])
    with pytest.raises(TypeError, match="state= takes"):
        bot.on_message(state=[])


# -- choosing the store ---------------------------------------------------------------------------------------------


def test_linqbot_state_url_chooses_the_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LINQBOT_STATE_URL", f"sqlite:///{tmp_path}/bot-state.db")
    bot = Bot(env_file=None, plugins="state", safeguards=QUIET)
    store = runtime_of(bot).store
    assert isinstance(store, SqliteStore)
    assert store.path == f"{tmp_path}/bot-state.db"
    assert bot.state_store is store  # type: ignore[attr-defined]


async def test_the_default_is_an_sqlite_file_created_by_the_first_write(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    bot = Bot(env_file=None, plugins="state", safeguards=QUIET)
    store = runtime_of(bot).store
    assert isinstance(store, SqliteStore)
    await store.open()
    assert await store.get("chat:c1", "k") is None
    assert not (tmp_path / ".linqbot" / "state.db").exists()
    await store.set("chat:c1", "k", 1)
    assert (tmp_path / ".linqbot" / "state.db").exists()
    await store.close()


def test_an_unknown_scheme_is_refused_without_echoing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINQBOT_STATE_URL", "postgres://admin:hunter2@db/state")
    bot = Bot(env_file=None, plugins="state", safeguards=QUIET)
    with pytest.raises(StateStoreError, match=r"postgres://.*known: memory://") as caught:
        _ = runtime_of(bot).store
    assert "hunter2" not in str(caught.value)


def test_a_plugin_adds_a_backend_through_the_storage_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []

    class KeyValuePlugin:
        @hookimpl
        def linqbot_storage_backends(self) -> dict[str, object]:
            def factory(url: str) -> MemoryStore:
                made.append(url)
                return MemoryStore()

            return {"kv": factory}

    monkeypatch.setenv("LINQBOT_STATE_URL", "kv://cluster-1")
    bot = Bot(env_file=None, plugins=["state", KeyValuePlugin()], safeguards=QUIET)
    assert isinstance(runtime_of(bot).store, MemoryStore)
    assert made == ["kv://cluster-1"]


async def test_a_store_that_cannot_open_stops_the_bot_at_start_up(tmp_path: Path) -> None:
    bot = Bot(env_file=None, plugins="state", safeguards=QUIET)
    bot.state_store = SqliteStore(tmp_path / "missing-folder" / "state.db")  # type: ignore[attr-defined]
    with pytest.raises(StateStoreError, match="does not exist"):
        async with simulate(bot):
            pass

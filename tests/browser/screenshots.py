"""Take the README's screenshots: ``python -m tests.browser.screenshots docs/screenshots``.

A server of its own with a fresh archive, Debian's headless Chromium with a fake camera, and
three people: Ann, who wrote what her rooms are for, and Bob meet in a coffee room (Bob on a
phone) while Cleo looks at the lobby; then Cleo comes in as Ann starts speed networking, and
the three meet at a table. Last, Maya, Theo and Iris talk in an open room: a thread,
reactions, an edit, a delete and a mention; and Rosa, who made the allotment society's room
and wrote what it is for, sees a message Sam reported, with slow mode on; Nora, who keeps
the book club's room, has pinned two messages, which Kit finds in the Pinned list; and in
the committee's room Rosa opens what Kit's twice-edited message said before; climate
founders with profiles, seen on a card and in "Who is here"; Jo, signed in on her
phone and at the office too, looks at her sessions; Mia, with passkeys on her laptop
and her phone, has signed in with one at a friend's laptop; and Lena, about to leave, opens
"Your data" to download hers and types her name to erase herself; and Hana records her
workshop while Omar and Lucia watch.
``scripts/screenshots.sh`` installs what this needs and runs it.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright, expect

from .harness import People, Person, Server, launch, missing

PHONE = {"width": 390, "height": 844}
DESKTOP_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


async def describe(person: Person, description: str) -> None:
    """As the room's owner: write what the room is for, from the room's menu."""
    await person.tid("room-menu").click()
    await person.tid("room-menu-items").get_by_test_id("room-edit-open").click()
    await person.tid("room-edit-description").fill(description)
    await person.tid("room-edit-save").click()
    await expect(person.tid("room-description")).to_have_text(description)


async def lobby_after_creating(person: Person) -> None:
    await person.tid("leave-room").click()
    await expect(person.tid("lobby")).to_be_visible()


async def take(out: Path) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        server = Server(Path(workdir))
        await server.start()
        try:
            async with async_playwright() as playwright:
                browser = await launch(playwright)
                people = People(browser, server)
                try:
                    await scenes(people, server, out)
                finally:
                    await people.close()
                    await browser.close()
        finally:
            await server.stop()


async def scenes(people: People, server: Server, out: Path) -> None:
    ann = await people.new("Ann")
    await ann.enter(server.url)
    await ann.create_room("Freelancers' corner", "open")
    await describe(ann, "Questions, leads and recommendations for freelancers and small studios.")
    await ann.say("Anyone know a good accountant for a two-person studio?")
    await lobby_after_creating(ann)
    await ann.create_room("Pricing your work", "workshop")
    await lobby_after_creating(ann)
    room = await ann.create_room("Friday coffee", "coffee")
    await describe(
        ann,
        "Our weekly catch-up before work: news from the chamber, introductions, "
        "and who needs a hand this week.",
    )

    bob = await people.new("Bob", viewport=PHONE, is_mobile=True, has_touch=True)
    await bob.open_room(server.url, room)
    await ann.camera_on()
    await bob.camera_on()
    await ann.say("Morning! Who's in for the chamber breakfast on Thursday?")
    await bob.say("Count me in, I'll bring the flyers")
    await ann.say("Great, see you at 8:30 at the Corner Café")
    await expect(bob.messages("Great, see you at 8:30 at the Corner Café")).to_be_visible()
    # On a phone the member list is folded away, so the ids are read on Ann's page.
    await ann.sees_video_of(await ann.id_of("Bob"))
    await bob.sees_video_of(await ann.user_id())

    cleo = await people.new("Cleo")
    await cleo.enter(server.url)
    coffee = cleo.tid("room-list").locator(f'[data-testid="room-item"][data-room-id="{room}"]')
    await expect(coffee.get_by_test_id("room-members")).to_have_text(re.compile(r"\b2\b"))
    await cleo.page.screenshot(path=out / "lobby.png")
    await ann.page.screenshot(path=out / "coffee-room.png")
    await bob.page.screenshot(path=out / "mobile.png")

    # Speed networking: Cleo comes in as Ann starts a series, and is invited.
    await cleo.open_room(server.url, room)
    await cleo.camera_on()
    cleo_id = await ann.id_of("Cleo")
    await ann.tid("rounds-start-open").click()
    await ann.tid("rounds-break").fill("20")
    await ann.tid("rounds-submit").click()
    await expect(cleo.tid("rounds-invite")).to_be_visible()
    await expect(cleo.tid("tables-countdown")).to_have_attribute("data-phase", "gathering")
    await cleo.sees_video_of(await ann.user_id())
    await cleo.page.screenshot(path=out / "rounds-invite.png")
    await cleo.tid("rounds-join").click()
    await bob.tid("rounds-join").click()
    # Three people in pairs: one table of three (nobody sits alone).
    await expect(ann.room()).to_have_attribute("data-kind", "table", timeout=40_000)
    await expect(ann.tid("tables-countdown")).to_have_attribute("data-phase", "round")
    await ann.sees_video_of(cleo_id)
    await ann.sees_video_of(await ann.id_of("Bob"))
    await cleo.say("Hi both! I make websites for small shops.")
    await expect(ann.messages("Hi both! I make websites for small shops.")).to_be_visible()
    await ann.page.screenshot(path=out / "table.png")

    await conversation(people, server, out)
    await reports(people, server, out)
    await pins(people, server, out)
    await versions(people, server, out)
    await profiles(people, server, out)
    await sessions(people, server, out)
    await people_page(people, server, out)
    await passkeys(people, server, out)
    await your_data(people, server, out)
    await recording(people, server, out)


async def profile(person: Person, **fields: str) -> None:
    """Write one's profile in the editor the sidebar's "Profile" opens."""
    await person.tid("edit-profile").click()
    for field, value in fields.items():
        await person.tid(f"profile-{field}").fill(value)
    await person.tid("profile-save").click()
    await expect(person.tid("profile-dialog")).to_be_hidden()


async def profiles(people: People, server: Server, out: Path) -> None:
    """A climate founders' room: headlines under the names, Priya's card on Lena's page; then
    "Who is here" as Sam, just arrived, sees it."""
    priya = await people.new("Priya")
    await priya.enter(server.url)
    room = await priya.create_room("Climate founders", "open")
    await priya.tid("invite-dismiss").click()
    await profile(
        priya,
        headline="Founder, heat pumps for terraced houses",
        organisation="Warm Rows Ltd",
        link="https://warmrows.example.org",
        about="Looking for installers in the north-west and a part-time CTO.",
    )
    tom = await people.new("Tom")
    await tom.open_room(server.url, room)
    await profile(tom, headline="Angel investor, energy and mobility")
    lena = await people.new("Lena")
    await lena.open_room(server.url, room)
    await profile(lena, headline="Product designer", organisation="Freelance")
    await priya.say("Hi all! Anyone here working on retrofit financing?")
    await tom.say("Yes, happy to chat after the intros")
    await expect(lena.tid("member-headline")).to_have_count(3)
    await (
        lena.messages("Hi all! Anyone here working on retrofit financing?")
        .get_by_test_id("message-author")
        .hover()
    )
    await expect(lena.tid("profile-card")).to_be_visible()
    await lena.page.screenshot(path=out / "profile.png")

    sam = await people.new("Sam")
    await sam.enter(server.url)
    await expect(sam.tid("here-list").get_by_test_id("here-headline")).to_have_count(3)
    await sam.page.screenshot(path=out / "who-is-here.png")


async def conversation(people: People, server: Server, out: Path) -> None:
    """A room's conversation as Theo sees it, with the thread of his question open."""
    maya = await people.new("Maya")
    await maya.enter(server.url)
    room = await maya.create_room("Studio talk", "open")
    theo = await people.new("Theo")
    await theo.open_room(server.url, room)
    iris = await people.new("Iris")
    await iris.open_room(server.url, room)
    await expect(maya.tid("member-list").get_by_test_id("member")).to_have_count(3)

    question = "Has anyone tried the new invoicing tool? Thinking of switching before April."
    await theo.say(question)
    await maya.reply(question, "Yes, since March. The recurring invoices alone are worth it.")
    await iris.reply(question, "Same here. I can send you my templates if you like.")
    await maya.react(question, "👍")
    await iris.react(question, "👍")
    await iris.react(question, "🎉")

    moved = "Pricing workshop moved to Thursday 10:00"
    await maya.say(moved)
    await maya.act(moved, "message-edit")
    editor = maya.tid("edit-input")
    await editor.fill("Pricing workshop moved to Thursday 11:00, same room")
    await editor.press("Enter")
    await theo.react("Pricing workshop moved to Thursday 11:00, same room", "✅")

    await iris.say("wrong window, sorry!")
    await iris.act("wrong window, sorry!", "message-delete")
    await iris.tid("confirm-ok").click()
    await maya.mention("Theo", "can you bring the projector on Thursday?")

    message = theo.messages("@Theo can you bring the projector on Thursday?")
    await expect(message.get_by_test_id("mention")).to_be_visible()
    await expect(theo.tid("message-deleted")).to_be_visible()
    await theo.messages(question).get_by_test_id("thread-summary").click()
    await expect(theo.messages(within="thread-panel")).to_have_count(3)
    # Theo points at the edited message: its action bar shows.
    edited = theo.messages("Pricing workshop moved to Thursday 11:00, same room")
    await edited.hover()
    await expect(edited.get_by_test_id("message-actions")).to_have_css("opacity", "1")
    await theo.page.screenshot(path=out / "conversation.png")


async def reports(people: People, server: Server, out: Path) -> None:
    """The owner of an open room with one report open, as the Reports panel shows it."""
    rosa = await people.new("Rosa")
    await rosa.enter(server.url)
    room = await rosa.create_room("Allotment society", "open")
    await rosa.tid("invite-dismiss").click()
    await describe(rosa, "Plot news, seed swaps and the work-day rota. Be kind; no selling here.")
    sam = await people.new("Sam")
    await sam.open_room(server.url, room)
    lee = await people.new("Lee")
    await lee.open_room(server.url, room)
    await expect(rosa.tid("member-list").get_by_test_id("member")).to_have_count(3)
    await rosa.say("Seed swap on Saturday at the shed, bring labelled packets please")
    await sam.say("I'll bring runner beans and too many courgettes")
    spam = "Cheap garden sheds!! Best prices, DM me now, limited offer"
    await lee.say(spam)
    await sam.act(spam, "message-report")
    await sam.tid("prompt-input").fill("Advertising, and not the first time")
    await sam.tid("prompt-ok").click()
    await rosa.tid("room-menu").click()
    await rosa.tid("room-menu-items").get_by_test_id("slow-30").click()
    await expect(rosa.tid("slow-notice")).to_be_visible()
    await expect(rosa.tid("reports-badge")).to_have_text("1")
    await rosa.tid("reports-open").click()
    await expect(rosa.tid("report-item")).to_have_count(1)
    await rosa.page.screenshot(path=out / "reports.png")


async def pins(people: People, server: Server, out: Path) -> None:
    """A member of an open room with its Pinned list open: what its owner pinned."""
    nora = await people.new("Nora")
    await nora.enter(server.url)
    room = await nora.create_room("Book club", "open")
    await nora.tid("invite-dismiss").click()
    kit = await people.new("Kit")
    await kit.open_room(server.url, room)
    await expect(nora.tid("member-list").get_by_test_id("member")).to_have_count(2)
    rules = "House rules: no spoilers before the meeting, mark them with ||like this||"
    book = "March: The Left Hand of Darkness. We meet on the 28th at 7 pm in the library"
    await nora.say(rules)
    await kit.say("Is anyone else halfway through already?")
    await nora.say(book)
    await kit.say("Ordered my copy, thanks!")
    await nora.act(rules, "message-pin")
    await nora.act(book, "message-pin")
    await expect(kit.messages(book).get_by_test_id("message-pinned")).to_be_visible()
    await kit.tid("pins-open").click()
    await expect(kit.tid("pin-item")).to_have_count(2)
    await kit.page.mouse.move(0, 0)
    await kit.page.screenshot(path=out / "pins.png")


async def versions(people: People, server: Server, out: Path) -> None:
    """A moderator of the allotment society reads what an edited message said before."""
    rosa = await people.new("Rosa")
    await rosa.enter(server.url)
    room = await rosa.create_room("Allotment committee", "open")
    await rosa.tid("invite-dismiss").click()
    kit = await people.new("Kit")
    await kit.open_room(server.url, room)
    await expect(rosa.tid("member-list").get_by_test_id("member")).to_have_count(2)
    await rosa.say("Work day this Saturday: paths and the compost bays")
    first = "Plot 14 is a mess again, whoever has it should be thrown out"
    await kit.say(first)
    for text in (
        "Plot 14 is overgrown again, could someone have a word?",
        "Plot 14 could do with a hand on Saturday, happy to help",
    ):
        await kit.act(first, "message-edit")
        await kit.tid("edit-input").fill(text)
        await kit.tid("edit-input").press("Enter")
        first = text
    await rosa.messages(first).get_by_test_id("message-edited").click()
    await expect(rosa.tid("versions-popover").get_by_test_id("version")).to_have_count(2)
    await rosa.page.screenshot(path=out / "versions.png")


async def sessions(people: People, server: Server, out: Path) -> None:
    """Jo, signed in on a phone and at the office too, looks at where she is signed in."""
    jo = await people.new("Jo", user_agent=DESKTOP_CHROME)
    await jo.enter(server.url)
    for device, hours in (("Safari on iPhone", 3), ("Firefox on Windows", 6 * 24)):
        other = await people.elsewhere(jo, device, hours_ago=hours)
        await expect(other.tid("lobby")).to_be_visible()
        await other.context.close()
        people.people.remove(other)
    await jo.tid("sessions-open").click()
    await expect(jo.tid("session")).to_have_count(3)
    await jo.page.mouse.move(0, 0)
    await jo.page.screenshot(path=out / "sessions.png")


async def card(person: Person, **fields: str) -> None:
    """Fill in one's contact card on the People page."""
    await person.tid("people-link").click()
    editor = person.tid("card-editor")
    for field, value in fields.items():
        await editor.get_by_test_id(f"card-{field}").fill(value)
    await editor.get_by_test_id("card-save").click()
    await expect(editor.get_by_test_id("card-status")).to_have_text("Saved")


async def people_page(people: People, server: Server, out: Path) -> None:
    """After a founders' breakfast, Ann's People page: Cleo asked, Bob and Ann are in touch
    (Bob's card shared with her, and hers with him but for her phone), Dan has not answered
    Ann yet, and Eve, whom Ann saw at Friday coffee with both cameras on, is among the people
    she met."""
    ann = await people.new("Ann", viewport={"width": 1280, "height": 1480})
    await ann.enter(server.url)
    await profile(ann, headline="Owner, Rise & Shine bakery")
    coffee = await ann.create_room("Friday coffee", "coffee")
    await ann.tid("invite-dismiss").click()
    await ann.camera_on()
    eve = await people.new("Eve")
    await eve.open_room(server.url, coffee)
    await profile(eve, headline="Photographer for food brands")
    await eve.camera_on()
    await ann.sees_video_of(await ann.id_of("Eve"))
    await ann.tid("leave-room").click()
    await expect(ann.tid("lobby")).to_be_visible()

    room = await ann.create_room("Founders' breakfast", "open")
    await ann.tid("invite-dismiss").click()
    said = {}
    for name, headline, text in (
        ("Bob", "Web designer for small shops", "Web designer, two slots free in January"),
        ("Cleo", "Accountant for cafés and bakeries", "Accountant for small bakeries and cafés"),
        ("Dan", "Bookkeeper, Leeds", "Looking for a bookkeeper in Leeds"),
    ):
        person = await people.new(name)
        await person.open_room(server.url, room)
        await profile(person, headline=headline)
        await person.say(text)
        said[name] = (person, text)
    await ann.say("I run a bakery and need a new website")
    bob = said["Bob"][0]
    for name in ("Bob", "Cleo"):
        asker = said[name][0]
        await (
            asker.messages("I run a bakery and need a new website")
            .get_by_test_id("message-author")
            .hover()
        )
        await asker.tid("profile-card").get_by_test_id("profile-card-stay").click()
        await expect(asker.tid("profile-card-stay")).to_have_text("Asked")
    await ann.messages(said["Dan"][1]).get_by_test_id("message-author").hover()
    await ann.tid("profile-card").get_by_test_id("profile-card-stay").click()
    await card(bob, email="bob@pixelbarn.example", phone="+44 113 496 0123",
               link="https://pixelbarn.example")  # fmt: skip
    await expect(ann.tid("asked-badge")).to_have_text("2")
    await card(ann, email="ann@riseandshine.example", phone="+44 113 496 0456",
               link="https://riseandshine.example")  # fmt: skip
    await (
        ann.tid("asked-list")
        .get_by_test_id("asked-person")
        .filter(has_text="Bob")
        .get_by_test_id("asked-accept")
        .click()
    )
    contact = ann.tid("people-list").get_by_test_id("met-person")
    await expect(contact.get_by_test_id("contact-email")).to_have_text("bob@pixelbarn.example")
    phone = contact.locator('[data-testid="share-toggle"][data-field="phone"]')
    await phone.click()
    await expect(phone).to_have_attribute("aria-pressed", "false")
    await expect(ann.tid("encounters-list").get_by_test_id("encounter-person")).to_have_count(1)
    await expect(ann.tid("toast")).to_have_count(0, timeout=20_000)  # the requests' toasts go
    await ann.page.mouse.move(0, 0)
    await ann.page.screenshot(path=out / "people.png")


async def passkeys(people: People, server: Server, out: Path) -> None:
    """Mia attached a passkey on her laptop and one on her phone (Chromium's virtual
    authenticators), and signed in with the first on a friend's laptop."""
    url = f"http://localhost:{server.port}/"  # an RP ID must be a domain
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
    }
    mia = await people.new(
        "Mia", user_agent=DESKTOP_CHROME, viewport={"width": 1280, "height": 1000}
    )
    await mia.enter(url)
    cdp = await mia.context.new_cdp_session(mia.page)
    await cdp.send("WebAuthn.enable")
    await mia.tid("sessions-open").click()
    for count, name in ((1, None), (2, "Mia's phone")):
        made = await cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
        await mia.tid("passkey-add").click()
        await expect(mia.tid("passkey")).to_have_count(count)
        if count == 1:
            laptop = (await cdp.send("WebAuthn.getCredentials", made))["credentials"][0]
        await cdp.send("WebAuthn.removeVirtualAuthenticator", made)
        if name:
            mia.page.once("dialog", lambda dialog, name=name: dialog.accept(name))
            await mia.tid("passkey").nth(1).get_by_test_id("passkey-rename").click()
            await expect(mia.tid("passkey-name").nth(1)).to_have_text(name)
    friend = await people.new("Mia", user_agent=FIREFOX_WINDOWS)
    await friend.page.goto(url)
    friend_cdp = await friend.context.new_cdp_session(friend.page)
    await friend_cdp.send("WebAuthn.enable")
    made = await friend_cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    await friend_cdp.send("WebAuthn.addCredential", {**made, "credential": laptop})
    await friend.tid("passkey-signin").click()
    await expect(friend.tid("lobby")).to_be_visible()
    await mia.tid("sessions-close").click()
    await mia.tid("sessions-open").click()
    await expect(mia.tid("session")).to_have_count(2)
    await expect(mia.tid("passkey").first).to_contain_text("last used")
    await mia.page.mouse.move(0, 0)
    await mia.page.screenshot(path=out / "passkeys.png")


async def your_data(people: People, server: Server, out: Path) -> None:
    """Lena, leaving the community, opens "Your data" and types her name to erase herself."""
    lena = await people.new("Lena")
    await lena.enter(server.url)
    await lena.create_room("Leaving drinks", "open")
    await lena.tid("invite-dismiss").click()
    await lena.say("Thanks all, it was a good three years. Keep in touch!")
    await lena.tid("yourdata-open").click()
    await lena.tid("yourdata-erase-confirm").fill("Lena")
    await expect(lena.tid("yourdata-erase")).to_be_enabled()
    await lena.page.mouse.move(0, 0)
    await lena.page.screenshot(path=out / "your-data.png")


async def recording(people: People, server: Server, out: Path) -> None:
    """Hana records her workshop: the mark beside its title, the button to stop it."""
    hana = await people.new("Hana")
    await hana.enter(server.url)
    room = await hana.create_room("Quoting for a first client", "workshop")
    await hana.tid("invite-dismiss").click()
    await hana.camera_on()
    for name in ("Omar", "Lucia"):
        guest = await people.new(name)
        await guest.open_room(server.url, room)
        await guest.sees_video_on_stage(await hana.user_id())
    await hana.tid("recording-toggle").click()
    await expect(hana.tid("recording-indicator")).to_be_visible()
    await expect(guest.tid("recording-indicator")).to_be_visible()
    await guest.say("Will the slides be shared afterwards?")
    await expect(hana.messages("Will the slides be shared afterwards?")).to_be_visible()
    await hana.page.mouse.move(0, 0)
    await hana.page.screenshot(path=out / "recording.png")


def main() -> None:
    problem = missing()
    if problem:
        sys.exit(problem)
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    asyncio.run(take(out))
    names = ("lobby.png", "coffee-room.png", "mobile.png", "rounds-invite.png", "table.png")
    later = ("conversation.png", "reports.png", "pins.png", "versions.png", "profile.png")
    for name in (
        *names,
        *later,
        "who-is-here.png",
        "sessions.png",
        "people.png",
        "passkeys.png",
        "your-data.png",
        "recording.png",
    ):
        print(out / name)


if __name__ == "__main__":
    main()

// What hosts and co-hosts do in a workshop, and owners and moderators in an open room or
// coffee morning: each action a request of its own, the questions asked before the ones that
// cannot be undone, and failures reported rather than thrown; and the "…" menu of a member, as
// this user may act on them (blocking them, for anybody).

import type { Client } from "../protocol/client";
import { type RoomState, STAGE } from "../protocol/room";
import type { Member, User } from "../protocol/types";
import { ask } from "./dialog";
import { sentence } from "./elements";
import type { IconName } from "./icons";
import type { MenuItem } from "./menu";

export type Notify = (text: string, kind?: "info" | "error") => void;

/**
 * What this user can do to others in one room, each call reporting its own failure: a
 * workshop's hosting, an open room's looking after, and blocking anybody.
 */
export class Moderator {
  constructor(
    private readonly client: Client,
    private readonly state: RoomState,
    private readonly notify: Notify,
  ) {}

  private get room(): string {
    return this.state.id;
  }

  get workshop() {
    return this.client.workshop;
  }

  /** Run an action; a refusal (somebody left meanwhile, say) is shown, not thrown. */
  run(action: () => Promise<void>): void {
    action().catch((error: unknown) => {
      this.notify(error instanceof Error ? sentence(error.message) : "That did not work.", "error");
    });
  }

  raiseHand(up: boolean): void {
    this.run(() => (up ? this.workshop.raiseHand(this.room) : this.workshop.lowerHand(this.room)));
  }

  lowerHand(user: string): void {
    this.run(() => this.workshop.lowerHand(this.room, user));
  }

  invite(user: string): void {
    this.run(() => this.workshop.invite(this.room, user));
  }

  /** Send a presenter back to the audience, or (no user) step down oneself. */
  sendBack(user?: string): void {
    this.run(() => this.workshop.sendBack(this.room, user));
  }

  setLocked(on: boolean): void {
    this.run(() => this.workshop.lock(this.room, on));
  }

  setWaitingRoom(on: boolean): void {
    this.run(() => this.workshop.waitingRoom(this.room, on));
  }

  setChat(on: boolean): void {
    this.run(() => this.workshop.enableChat(this.room, on));
  }

  admit(user: string): void {
    this.run(() => this.workshop.admit(this.room, user));
  }

  decline(user: string): void {
    this.run(() => this.workshop.decline(this.room, user));
  }

  allow(user: User): void {
    this.run(async () => {
      await this.workshop.allow(this.room, user.id);
      this.notify(`${user.name} can join again.`);
    });
  }

  async remove(member: Member): Promise<void> {
    const workshop = this.state.isWorkshop;
    const yes = await ask({
      title: `Remove ${member.name}?`,
      text: workshop
        ? `${member.name} leaves the workshop and cannot come back unless a host allows it again.`
        : `${member.name} leaves ${this.state.title} and cannot come back unless a moderator allows it again.`,
      confirm: "Remove",
      danger: true,
    });
    if (yes) this.run(() => this.client.moderation.remove(this.room, member.id));
  }

  /** Let somebody removed from an open room or coffee morning come back. */
  allowBack(user: User): void {
    this.run(async () => {
      await this.client.moderation.allow(this.room, user.id);
      this.notify(`${user.name} can join again.`);
    });
  }

  /** Appoint (`on`) or unappoint a moderator: the owner's. */
  setModerator(member: Member, on: boolean): void {
    this.run(async () => {
      await this.client.moderation.setModerator(this.room, member.id, on);
      this.notify(on ? `${member.name} is a moderator now.` : `${member.name} is no longer a moderator.`);
    });
  }

  /** Slow mode: one message per `seconds` for everybody but moderators; 0 turns it off. */
  setSlow(seconds: number): void {
    this.run(() => this.client.moderation.setSlow(this.room, seconds));
  }

  block(user: User, on: boolean): void {
    this.run(async () => {
      await this.client.blocks.set(user.id, on);
      this.notify(
        on ? `You blocked ${user.name}. Their messages are hidden from you.` : `You unblocked ${user.name}.`,
      );
    });
  }

  async handOver(member: Member): Promise<void> {
    const yes = await ask({
      title: `Make ${member.name} the host?`,
      text: `${member.name} gets every host power, including ending the workshop. You stay on as a co-host.`,
      confirm: "Make host",
    });
    if (yes) this.run(() => this.workshop.handOver(this.room, member.id));
  }

  async end(): Promise<void> {
    const yes = await ask({
      title: "End the workshop for everyone?",
      text: "Everybody leaves at once, and nobody can join it again.",
      confirm: "End workshop",
      danger: true,
    });
    if (yes) this.run(() => this.workshop.end(this.room));
  }

  /** The "…" menu of a member, as this user may act on them. Empty: no menu. */
  memberItems(member: Member): MenuItem[] {
    const me = this.state.you;
    if (!me || member.id === me.id) return [];
    const items = this.state.hosting ? this.hostItems(member, me) : this.keeperItems(member, me);
    const blocked = this.client.blocks.has(member.id);
    items.push(
      blocked
        ? item("control-block", "Unblock", "block", () => this.block(member, false))
        : { ...item("control-block", "Block", "block", () => this.block(member, true)), danger: true },
    );
    return items;
  }

  /** An open room's or coffee morning's owner and moderators: moderators, removal. */
  private keeperItems(member: Member, me: Member): MenuItem[] {
    const items: MenuItem[] = [];
    if (!this.state.moderating || member.role === "owner") return items;
    if (me.role === "owner" && member.role === "moderator") {
      items.push(
        item("control-moderator", "Remove moderator", "shield", () => this.setModerator(member, false)),
      );
    } else if (me.role === "owner") {
      items.push(
        item("control-moderator", "Make moderator", "shield", () => this.setModerator(member, true)),
      );
    }
    items.push({
      ...item("control-remove", "Remove from room", "userX", () => void this.remove(member)),
      danger: true,
    });
    return items;
  }

  /** A workshop's hosts and co-hosts: the stage, muting, roles, removal. */
  private hostItems(member: Member, me: Member): MenuItem[] {
    const host = me.role === "host";
    const items: MenuItem[] = [];
    if (member.role === "guest") {
      items.push(item("control-stage", "Bring on stage", "stageUp", () => this.invite(member.id)));
    } else if (member.role === "presenter") {
      items.push(
        item("control-stage", "Send back to the audience", "stageDown", () => this.sendBack(member.id)),
      );
    }
    if (STAGE.has(member.role)) {
      items.push({
        ...item("control-mute-mic", "Mute microphone", "micOff", () => this.mute(member, { mic: true })),
        disabled: !member.mic,
        title: member.mic ? undefined : "Their microphone is off",
      });
      items.push({
        ...item("control-mute-camera", "Turn off camera", "cameraOff", () =>
          this.mute(member, { camera: true }),
        ),
        disabled: !member.camera,
        title: member.camera ? undefined : "Their camera is off",
      });
      if (member.screen) {
        items.push(
          item("control-mute-screen", "Stop screen share", "screen", () =>
            this.mute(member, { screen: true }),
          ),
        );
      }
    }
    if (host && member.role === "cohost") {
      items.push(item("control-cohost", "Make guest", "shield", () => this.setRole(member, "guest")));
    } else if (host) {
      items.push(item("control-cohost", "Make co-host", "shield", () => this.setRole(member, "cohost")));
    }
    if (host) items.push(item("control-handover", "Make host", "crown", () => void this.handOver(member)));
    if (member.role !== "host") {
      items.push({
        ...item("control-remove", "Remove from workshop", "userX", () => void this.remove(member)),
        danger: true,
      });
    }
    return items;
  }

  private mute(member: Member, what: { camera?: boolean; mic?: boolean; screen?: boolean }): void {
    this.run(() => this.workshop.mute(this.room, member.id, what));
  }

  private setRole(member: Member, role: "cohost" | "guest"): void {
    this.run(() => this.workshop.setRole(this.room, member.id, role));
  }
}

function item(testid: string, label: string, iconName: IconName, act: () => void): MenuItem {
  return { testid, label, icon: iconName, act };
}

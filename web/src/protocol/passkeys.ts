// Passkeys (docs/protocol.md, "Passkeys"): attach one to this identity, list, rename and
// remove them, and sign in with one from a browser that has no identity yet. Plain HTTP with
// the resume token (`Authorization: Bearer`), since a sign-in has no connection to go over.
// The WebAuthn options and answers travel as JSON, their binary fields in base64url
// (W3C Web Authentication §5.1, `toJSON()`), converted here for browsers without
// `PublicKeyCredential.parseCreationOptionsFromJSON`.

import { RequestError } from "./connection";
import { Emitter } from "./emitter";
import { storage } from "./storage";
import type { User } from "./types";

/** One passkey as its owner sees it. */
export interface PasskeyInfo {
  id: string;
  name: string;
  created: number;
  /** The last sign-in with it; null if never. */
  last_used: number | null;
  transports: string[];
}

interface PasskeysEvents {
  changed: void;
}

export function toBase64url(buffer: ArrayBuffer | ArrayBufferView): string {
  const bytes =
    buffer instanceof ArrayBuffer
      ? new Uint8Array(buffer)
      : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64url(text: string): ArrayBuffer {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

/** Whether this browser can make and use passkeys at all. */
export function passkeysSupported(): boolean {
  return typeof window !== "undefined" && "PublicKeyCredential" in window && !!navigator.credentials;
}

type Json = Record<string, unknown>;

async function call<T>(method: string, path: string, body?: unknown, token?: string | null): Promise<T> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new RequestError("unavailable", "The server cannot be reached.");
  }
  let answer: unknown;
  try {
    answer = await response.json();
  } catch {
    throw new RequestError("internal", "The server sent an answer this client does not understand.");
  }
  const error = (answer as { error?: { code?: string; message?: string } }).error;
  if (!response.ok || error) {
    throw new RequestError(
      error?.code ?? "internal",
      error?.message ?? `request failed (${response.status})`,
    );
  }
  return answer as T;
}

/** The browser refused or the person cancelled: a RequestError with a plain message. */
function ceremonyFailed(error: unknown): RequestError {
  if (error instanceof RequestError) return error;
  const name = error instanceof DOMException ? error.name : "";
  if (name === "NotAllowedError" || name === "AbortError") {
    return new RequestError("cancelled", "The passkey was not used (cancelled, or it timed out).");
  }
  if (name === "InvalidStateError") {
    return new RequestError("bad_request", "This device's passkey is attached already.");
  }
  return new RequestError(
    "bad_request",
    error instanceof Error ? error.message : "The passkey did not work.",
  );
}

function creationOptions(options: Json): PublicKeyCredentialCreationOptions {
  const user = options.user as Json;
  const exclude = (options.excludeCredentials as Json[] | undefined) ?? [];
  return {
    ...(options as unknown as PublicKeyCredentialCreationOptions),
    challenge: fromBase64url(options.challenge as string),
    user: { ...(user as unknown as PublicKeyCredentialUserEntity), id: fromBase64url(user.id as string) },
    excludeCredentials: exclude.map((descriptor) => ({
      ...(descriptor as unknown as PublicKeyCredentialDescriptor),
      id: fromBase64url(descriptor.id as string),
    })),
  };
}

function requestOptions(options: Json): PublicKeyCredentialRequestOptions {
  const allow = (options.allowCredentials as Json[] | undefined) ?? [];
  return {
    ...(options as unknown as PublicKeyCredentialRequestOptions),
    challenge: fromBase64url(options.challenge as string),
    allowCredentials: allow.map((descriptor) => ({
      ...(descriptor as unknown as PublicKeyCredentialDescriptor),
      id: fromBase64url(descriptor.id as string),
    })),
  };
}

function registrationJson(credential: PublicKeyCredential): Json {
  const response = credential.response as AuthenticatorAttestationResponse;
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: toBase64url(response.clientDataJSON),
      attestationObject: toBase64url(response.attestationObject),
      transports: typeof response.getTransports === "function" ? response.getTransports() : [],
    },
  };
}

function assertionJson(credential: PublicKeyCredential): Json {
  const response = credential.response as AuthenticatorAssertionResponse;
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: toBase64url(response.clientDataJSON),
      authenticatorData: toBase64url(response.authenticatorData),
      signature: toBase64url(response.signature),
      userHandle: response.userHandle ? toBase64url(response.userHandle) : null,
    },
  };
}

/**
 * Sign in with a passkey (discoverable: the browser offers the ones it holds for this site).
 * On success the returned token is stored, so the next connection is that user.
 */
export async function signInWithPasskey(): Promise<{ user: User; token: string }> {
  try {
    const { options } = await call<{ options: Json }>("POST", "/api/passkeys/signin/options", {});
    const credential = (await navigator.credentials.get({
      publicKey: requestOptions(options),
      mediation: "optional",
    })) as PublicKeyCredential | null;
    if (!credential) throw new RequestError("cancelled", "No passkey was chosen.");
    const answer = await call<{ user: User; token: string }>("POST", "/api/passkeys/signin", {
      credential: assertionJson(credential),
    });
    storage.token = answer.token;
    storage.name = answer.user.name;
    return answer;
  } catch (error) {
    throw ceremonyFailed(error);
  }
}

/** This user's passkeys, as last loaded. */
export class Passkeys extends Emitter<PasskeysEvents> {
  /** As last loaded; null before the first `load`. */
  list: PasskeyInfo[] | null = null;

  async load(): Promise<PasskeyInfo[]> {
    const { passkeys } = await call<{ passkeys: PasskeyInfo[] }>(
      "GET",
      "/api/passkeys",
      undefined,
      storage.token,
    );
    this.list = passkeys;
    this.emit("changed", undefined);
    return passkeys;
  }

  /** Make a passkey on this device and attach it; `name` unset: the server names it after the browser. */
  async add(name?: string): Promise<PasskeyInfo> {
    try {
      const token = storage.token;
      const { options } = await call<{ options: Json }>("POST", "/api/passkeys/register/options", {}, token);
      const credential = (await navigator.credentials.create({
        publicKey: creationOptions(options),
      })) as PublicKeyCredential | null;
      if (!credential) throw new RequestError("cancelled", "No passkey was made.");
      const body: Json = { credential: registrationJson(credential) };
      if (name) body.name = name;
      const { passkey } = await call<{ passkey: PasskeyInfo }>("POST", "/api/passkeys/register", body, token);
      this.list = [...(this.list ?? []), passkey];
      this.emit("changed", undefined);
      return passkey;
    } catch (error) {
      throw ceremonyFailed(error);
    }
  }

  async rename(id: string, name: string): Promise<void> {
    await call("PATCH", `/api/passkeys/${encodeURIComponent(id)}`, { name }, storage.token);
    this.list = (this.list ?? []).map((passkey) => (passkey.id === id ? { ...passkey, name } : passkey));
    this.emit("changed", undefined);
  }

  async remove(id: string): Promise<void> {
    await call("DELETE", `/api/passkeys/${encodeURIComponent(id)}`, undefined, storage.token);
    this.list = (this.list ?? []).filter((passkey) => passkey.id !== id);
    this.emit("changed", undefined);
  }
}

//! The host's manual: how to drive a capf-core session correctly, from any
//! language (documentation only; nothing to call here).
//!
//! Every session of this crate — the CAPF server
//! ([`ServerSession`](crate::capf::server::ServerSession)), the CAPF phone
//! ([`PhoneSession`](crate::capf::phone::PhoneSession)), the TVS server
//! ([`TvsServerSession`](crate::tvs::TvsServerSession)) and the TVS client
//! ([`TvsClientSession`](crate::tvs::TvsClientSession)) — implements the
//! one [`Session`](crate::session::Session) trait and hands out the one
//! [`Output`](crate::session::Output) type. A host written against the
//! trait drives all four.
//!
//! # 1. Sessions move no bytes, read no clock, hold no secret keys
//!
//! A session is a state machine over the *plaintext* of one connection. The
//! host owns the socket and the TLS connection (or uses the `tls` feature's
//! transports), the clock, the random number generator, the database and the
//! private keys. Everything the session needs from outside comes in through a
//! method call; everything it wants done comes out of `poll_output`.
//!
//! # 2. The loop
//!
//! ```text
//! session = XSession::new(config, now)        // a server queues its first frame
//! loop:
//!     while let Some(output) = session.poll_output():     // drain, always
//!         Transmit(frame) -> write the frame to the peer as ONE (TLS) write
//!         Need(decision)  -> answer it: session.answer_x(..) / refuse_x(..)
//!                            (now, or later from another task: the session
//!                            waits; pending_decision() names what it waits for)
//!         Done(outcome)   -> log it, close the connection, stop
//!     wait for the first of:
//!         bytes from the peer      -> session.handle_input(bytes)   (any chunking)
//!         EOF / close_notify       -> session.handle_peer_closed()
//!         TLS alert, reset, failed write -> session.handle_transport_error()
//!         the instant session.poll_timeout() -> session.handle_timeout(now)
//! ```
//!
//! Rules:
//!
//! * **Drain `poll_output` after every call** into the session (input, time,
//!   an answer, a close): an answer may release frames, a frame may raise a
//!   decision.
//! * **Write each `Transmit` whole, in order, as one write**, and write it at
//!   once: nothing needs to be held back. (Phones read one frame per TLS
//!   record; a session never emits a frame whose consequences the host has
//!   not yet recorded, see 4.)
//! * **Answer every `Need`** with its typed method. Answers take plain values;
//!   a "no" is its own `refuse_*` method. An answer to a decision that is not
//!   pending returns [`SessionMisuse`](crate::session::SessionMisuse) and
//!   changes nothing (a bug in the host, never the peer's fault).
//! * **Honour `poll_timeout`.** Time enters only through `new(config, now)`
//!   and `handle_timeout(now)`; the session measures every deadline from the
//!   latest time it was given. There is no deadline while a decision is
//!   pending: the host bounds its own work (a phone may take 30 minutes to
//!   generate a key). A host that spent time on a decision calls
//!   `handle_timeout(now)` before answering, so deadlines and certificate
//!   dates are judged at the right time. Calling `handle_timeout` early or
//!   with an older time is harmless.
//! * **Report the end of the stream and transport failures**: the session
//!   turns them into its own outcome (a phone that closed, a TLS failure).
//!   Bytes that arrive after the session's end is decided are ignored.
//! * **Stop at `Done`.** It is always the last output; `is_done()` tells it
//!   too.
//!
//! # 3. Blocking answers
//!
//! Some answers do real work at once. [`ServerSession::answer_device`](crate::capf::server::ServerSession::answer_device)
//! checks the phone's credentials: an authentication string costs its
//! PBKDF2 rounds (600,000 by default), certificate authentication a chain
//! check and RSA/ECDSA verifications. An async host runs that call off its
//! event loop (tokio's `spawn_blocking`, asyncio's `run_in_executor`, a JVM
//! worker pool) and comes back with the session afterwards.
//!
//! # 4. Durability
//!
//! What must survive a crash is a decision, asked *before* the frame that
//! depends on it:
//!
//! * [`ServerDecision::RecordPendingCertificate`](crate::capf::server::ServerDecision::RecordPendingCertificate):
//!   record an issued LSC as pending before STORE_CERT_REQUEST carries it;
//! * [`ServerDecision::RecordOutcome`](crate::capf::server::ServerDecision::RecordOutcome):
//!   every CAPF server session ends through it. Apply the registry rules
//!   (operation completed, failed attempt counted, certificate installed,
//!   one-time string consumed) and commit them, then answer
//!   `answer_outcome_recorded()`; only then does END_SESSION go out. If the
//!   write failed, `refuse_outcome_record()`: the phone is told END_SESSION 7
//!   and retries later, so it never believes something finished that the
//!   registry does not hold.
//!
//! A host that kills itself after any write therefore leaves its registry
//! never behind what the phone was told.
//!
//! # 5. Keys stay with the host
//!
//! The phone session never holds a private key. Certificate authentication
//! asks for each proof as
//! [`PhoneDecision::SignProof`](crate::capf::phone::PhoneDecision::SignProof):
//! the host signs the given digest with the named credential's key (a
//! platform keystore, a smart card, or the in-memory
//! [`SoftwareSigner`](crate::capf::phone::SoftwareSigner)) and answers
//! `answer_signature(bytes)`, or `refuse_signature()`.
//!
//! # 6. Errors, by who is at fault
//!
//! * the peer broke the protocol, timed out or went away: the session ends
//!   with an outcome saying so (never a panic, never an `Err` from a
//!   method);
//! * the host said "no" (`refuse_*`): the session ends the way the protocol
//!   says for that refusal;
//! * the host misused the API: [`SessionMisuse`](crate::session::SessionMisuse),
//!   the session unchanged.
//!
//! # 7. Over TLS: one object per connection (feature `tls`)
//!
//! [`TlsConnection`](crate::connection::TlsConnection) joins any session
//! with rustls and keeps the rules of a network host, so a tokio, asyncio or
//! JVM host only moves TCP bytes and answers decisions. Another TLS library
//! plugs in through [`TlsEngine`](crate::connection::TlsEngine) and
//! `TlsConnection::with_engine` with every rule kept (crate
//! `capf-legacy-tls`: OpenSSL for phones that speak only TLS 1.0 or CBC
//! suites):
//!
//! ```text
//! connection = TlsConnection::server(tls_config, session, options, now)
//!           (or TlsConnection::client(tls_config, server_name, session, options, now))
//!           (or TlsConnection::with_engine(engine, session, options, now))
//! loop:
//!     while let Some(output) = connection.poll_output():
//!         Transmit(bytes) -> write to TCP whole (failed: handle_transport_error())
//!         Need(decision)  -> answer through connection.session_mut()
//!         TlsFailed(err)  -> log err (readable cause); keep polling
//!         Done(outcome) | Abandoned(why) -> shut TCP down, stop
//!     wait for the first of:
//!         TCP bytes         -> connection.handle_tcp_input(bytes)
//!         EOF / reset       -> connection.handle_tcp_closed()
//!         poll_timeout()    -> connection.handle_timeout(now)
//! ```
//!
//! The connection carries: one frame per TLS record (and per `Transmit`),
//! the session's order (so `RecordOutcome` is answered before the final
//! END_SESSION leaves), the handshake deadline
//! ([`ConnectionOptions`](crate::connection::ConnectionOptions), part of
//! `poll_timeout`), close_notify / EOF as `handle_peer_closed`, TLS failures
//! and failed writes as `handle_transport_error`, and close_notify once the
//! session is done.

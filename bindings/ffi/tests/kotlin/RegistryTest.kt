// JVM tests of the CAPF server session answered from the SQLite registry
// (CapfRegistry + RegistryServerSession), with a phone session, in memory
// (no TCP): a real registry file in a fresh temporary folder. Called from
// CapfTest.kt's main.

import org.capf.*
import java.io.File
import java.nio.file.Files

fun freshRegistryPath(): String {
    val dir = Files.createTempDirectory("capf-ffi-registry").toFile()
    dir.deleteOnExit()
    return File(dir, "capf.db").path
}

/** Runs `phone` against `server` in memory, answering the server from its registry. */
fun pumpRegistry(phone: PhoneSession, server: RegistryServerSession, keystore: PhoneKeystore): Pair<PhoneOutcome, ServerOutcome> {
    var phoneOutcome: PhoneOutcome? = null
    var serverOutcome: ServerOutcome? = null
    repeat(10_000) {
        var moved = false
        while (true) {
            val out = server.pollOutput() ?: break
            moved = true
            when (out) {
                is ServerOutput.Transmit -> phone.handleInput(out.bytes)
                is ServerOutput.Need -> server.answerFromRegistry(NOW)
                is ServerOutput.Done -> serverOutcome = out.outcome
            }
        }
        while (true) {
            val out = phone.pollOutput() ?: break
            moved = true
            when (out) {
                is PhoneOutput.Transmit -> server.handleInput(out.bytes)
                is PhoneOutput.Need -> if (!phone.answerWithKeystore(out.decision, keystore)) {
                    when (out.decision) {
                        is PhoneDecision.StoreCertificate -> phone.answerStore()
                        else -> throw Failure("unexpected phone decision ${out.decision}")
                    }
                }
                is PhoneOutput.Done -> phoneOutcome = out.outcome
            }
        }
        val p = phoneOutcome
        val s = serverOutcome
        if (p != null && s != null) return p to s
        if (!moved) {
            if (p != null) server.handlePeerClosed() else if (s != null) phone.handlePeerClosed()
            else throw Failure("the sessions stalled")
        }
    }
    throw Failure("the sessions did not finish")
}

fun registryServer(registry: CapfRegistry, maxFailedAttempts: UInt = 5u): RegistryServerSession =
    RegistryServerSession(registry, capfIssuer(), serverOptions().copy(maxFailedAttempts = maxFailedAttempts), 365u, NOW)

fun testRegistryServerInstallsAndRecords() {
    val registry = CapfRegistry.open(freshRegistryPath(), null)
    check(!registry.putDevice(DEVICE, Operation.Install(KeySpec.Ec(EcCurve.P256)), DeviceAuth.AuthString("975310"), NOW),
        "a new device")
    val keystore = KotlinKeystore()
    val (p, s) = pumpRegistry(PhoneSession.withAuthString(DEVICE, "975310", NOW), registryServer(registry), keystore)
    check(p is PhoneOutcome.Installed, "phone installed: $p")
    check(s.result is ServerResult.Installed, "server installed: ${s.result}")
    val der = (p as PhoneOutcome.Installed).certificateDer
    // The ledger holds exactly the phone's certificate, installed; the operation is done.
    val ledger = registry.certificates(DEVICE)
    checkEquals(1, ledger.size, "ledger entries")
    check(ledger[0].der.contentEquals(der), "the ledger holds the phone's LSC")
    checkEquals("installed", ledger[0].state, "ledger state")
    checkEquals(Operation.None, registry.scheduledOperation(DEVICE), "the operation is done")
    // Issued by the CAPF key, for the key made in Kotlin.
    val lsc = x509(der)
    lsc.verify(x509(pemBlock(capfPem(), "CERTIFICATE")).publicKey)
    check(lsc.publicKey.encoded.contentEquals(keystore.keys.single().public.encoded), "the Kotlin key")
    // Nothing scheduled any more: a second session has nothing to do.
    val (again, _) = pumpRegistry(PhoneSession.withAuthString(DEVICE, "975310", NOW), registryServer(registry), keystore)
    check(again is PhoneOutcome.NothingToDo, "nothing to do after the install: $again")
}

fun testRegistryCountsFailuresAndLocks() {
    val registry = CapfRegistry.open(freshRegistryPath(), null)
    registry.putDevice(DEVICE, Operation.Install(KeySpec.Ec(EcCurve.P256)), DeviceAuth.AuthString("4455"), NOW)
    repeat(2) {
        val (p, s) = pumpRegistry(PhoneSession.withAuthString(DEVICE, "5544", NOW), registryServer(registry, 2u), KotlinKeystore())
        check(p is PhoneOutcome.Refused, "wrong string refused: $p")
        check(s.result is ServerResult.AuthenticationFailed, "server: ${s.result}")
    }
    checkEquals(2u, registry.failedAttempts(DEVICE), "failures counted in the registry")
    // Locked after 2: even the right string is refused now, and nothing is issued.
    val (p, _) = pumpRegistry(PhoneSession.withAuthString(DEVICE, "4455", NOW), registryServer(registry, 2u), KotlinKeystore())
    check(p !is PhoneOutcome.Installed, "a locked device is not installed: $p")
    checkEquals(0, registry.certificates(DEVICE).size, "no certificate issued")
    // Unknown devices are told so.
    val (unknown, _) = pumpRegistry(PhoneSession.withNullString("SEP00000000BEEF", NOW), registryServer(registry), KotlinKeystore())
    check(unknown is PhoneOutcome.UnknownDevice, "unknown device: $unknown")
}

fun testRegistryKeyedAuthStringAndBadInput() {
    val key = ByteArray(32) { (it * 7 + 3).toByte() }
    val path = freshRegistryPath()
    val registry = CapfRegistry.open(path, key)
    registry.putDevice(DEVICE, Operation.Install(KeySpec.Rsa(1024u)), DeviceAuth.AuthString("8080"), NOW)
    val (p, _) = pumpRegistry(PhoneSession.withAuthString(DEVICE, "8080", NOW), registryServer(registry), SoftwareKeystore().asKeystore())
    check(p is PhoneOutcome.Installed, "keyed string installs: $p")
    // A program without the key cannot verify a keyed string: the phone hears "registry unavailable", nothing is issued.
    registry.putDevice(DEVICE, Operation.Install(KeySpec.Ec(EcCurve.P256)), DeviceAuth.AuthString("8081"), NOW)
    val keyless = CapfRegistry.open(path, null)
    val (refused, _) = pumpRegistry(PhoneSession.withAuthString(DEVICE, "8081", NOW), registryServer(keyless), KotlinKeystore())
    check(refused is PhoneOutcome.Refused, "no key: refused: $refused")
    checkEquals(1, keyless.certificates(DEVICE).size, "only the first certificate")
    expectThrows<RegistryException.InvalidInput>("a 31-byte key") { CapfRegistry.open(freshRegistryPath(), ByteArray(31)) }
    expectThrows<RegistryException.InvalidInput>("letters as a string") {
        registry.putDevice(DEVICE, Operation.None, DeviceAuth.AuthString("12ab"), NOW)
    }
    expectThrows<RegistryException.Registry>("a folder as the database") { CapfRegistry.open("/", null) }
    expectThrows<ServerException.Misuse>("no decision pending") { registryServer(registry).answerFromRegistry(NOW) }
}

/** A PhoneConnection and a RegistryServerConnection, TLS bytes moved in memory by Kotlin. */
fun testRegistryServerConnectionOverTls() {
    val registry = CapfRegistry.open(freshRegistryPath(), null)
    registry.putDevice(DEVICE, Operation.Install(KeySpec.Ec(EcCurve.P256)), DeviceAuth.NullString, NOW)
    val server = RegistryServerConnection(registryServer(registry), listOf(pemBlock(capfPem(), "CERTIFICATE")),
        pemBlock(capfPem(), "PRIVATE KEY"), 10_000uL, NOW)
    val phone = PhoneConnection(PhoneSession.withNullString(DEVICE, NOW), pemText(capfPem(), "CERTIFICATE").toByteArray(),
        "capf.example", 10_000uL, NOW)
    val keystore = KotlinKeystore()
    var phoneOutcome: PhoneOutcome? = null
    var serverOutcome: ServerOutcome? = null
    repeat(1000) {
        while (true) {
            when (val out = phone.pollOutput() ?: break) {
                is PhoneConnectionOutput.Transmit -> server.handleTcpInput(out.bytes)
                is PhoneConnectionOutput.Need -> if (!phone.session().answerWithKeystore(out.decision, keystore)) phone.session().answerStore()
                is PhoneConnectionOutput.Done -> phoneOutcome = out.outcome
                else -> throw Failure("phone: $out")
            }
        }
        while (true) {
            when (val out = server.pollOutput() ?: break) {
                is ServerConnectionOutput.Transmit -> phone.handleTcpInput(out.bytes)
                is ServerConnectionOutput.Need -> server.server().answerFromRegistry(NOW)
                is ServerConnectionOutput.Done -> serverOutcome = out.outcome
                else -> throw Failure("server: $out")
            }
        }
        if (phoneOutcome != null && serverOutcome != null) return@repeat
    }
    val p = phoneOutcome
    check(p is PhoneOutcome.Installed, "phone installed: $p")
    check(serverOutcome?.recorded == true, "the server recorded the outcome: $serverOutcome")
    val ledger = registry.certificates(DEVICE)
    check(ledger.single().der.contentEquals((p as PhoneOutcome.Installed).certificateDer), "the ledger holds the LSC")
    checkEquals("installed", ledger.single().state, "ledger state")
    check(phone.isDone() && server.isDone(), "both connections are over")
}

/** Lifecycle through the registry: report, renewal planning, revocation refusing the revoked LSC. */
fun testRegistryLifecycle() {
    val registry = CapfRegistry.open(freshRegistryPath(), null)
    registry.putDevice(DEVICE, Operation.Install(KeySpec.Ec(EcCurve.P256)), DeviceAuth.NullString, NOW)
    val keystore = KotlinKeystore()
    val (p, _) = pumpRegistry(PhoneSession.withNullString(DEVICE, NOW), registryServer(registry), keystore)
    val lsc = (p as? PhoneOutcome.Installed)?.certificateDer ?: throw Failure("installed: $p")
    val serial = x509(lsc).serialNumber.toString(16)
    check(registry.reportCsv().contains(DEVICE), "the report lists the device")
    // 200 of the LSC's 365 days: more than half its life is used.
    val later = NOW + 200uL * 86_400_000uL
    val planned = registry.planRenewals("0.5", true, later)
    checkEquals(listOf(DEVICE), planned.map { it.deviceName }, "renewals due")
    checkEquals(serial, planned.single().serialHex.trimStart('0'), "the LSC to renew")
    checkEquals(Operation.None, registry.scheduledOperation(DEVICE), "a dry run schedules nothing")
    checkEquals(0, registry.planRenewals("0.9", true, later).size, "not due at 90 %")
    registry.planRenewals("0.5", false, later)
    check(registry.scheduledOperation(DEVICE) is Operation.Install, "the renewal is scheduled")
    // The LSC is revoked: the renewal it would authenticate is refused.
    val revoked = registry.revokeDevice(DEVICE, "keyCompromise", later)
    check(revoked.single().revoked, "revoked in the ledger")
    val session = PhoneSession.withCertificate(DEVICE, CertificatePrecedence.LSC_FIRST, lsc, null, null, later)
    val renewalServer = RegistryServerSession(registry, capfIssuer(), serverOptions(), 365u, later)
    val (renewal, _) = pumpRegistry(session, renewalServer, keystore)
    check(renewal !is PhoneOutcome.Installed, "a revoked LSC does not renew: $renewal")
    expectThrows<RegistryException.InvalidInput>("an unknown reason") { registry.revokeDevice(DEVICE, "bogus", later) }
    expectThrows<RegistryException.InvalidInput>("a share above 1") { registry.planRenewals("2", true, later) }
}

fun testRegistryDeadlinesStatusesAndSettings() {
    val registry = CapfRegistry.open(freshRegistryPath(), null)
    val day = 86_400_000uL
    // A deadline already passed: the session is refused, in Cisco's words.
    registry.schedule(DEVICE, Operation.Install(KeySpec.Ec(EcCurve.P256)), DeviceAuth.NullString,
        NOW - day, "lobby phone", NOW - 2uL * day)
    val pending = registry.deviceStatus(DEVICE)
    checkEquals("Operation Pending", pending.status, "status once scheduled")
    checkEquals(NOW - day, pending.completeByMillis, "the deadline")
    checkEquals("lobby phone", pending.description, "the description")
    val (late, _) = pumpRegistry(PhoneSession.withNullString(DEVICE, NOW), registryServer(registry), KotlinKeystore())
    check(late !is PhoneOutcome.Installed, "a late session is not installed: $late")
    checkEquals(0, registry.certificates(DEVICE).size, "nothing issued past the deadline")
    val failed = registry.deviceStatus(DEVICE)
    checkEquals("Upgrade Failed: User Initiated Request Late/Timedout", failed.status, "late status")
    checkEquals("upgrade-failed-user-initiated-request-late-timedout", failed.slug, "late slug")
    // Rescheduled with a deadline ahead: installed, and the status says so.
    registry.schedule(DEVICE, Operation.Install(KeySpec.Ec(EcCurve.P256)), DeviceAuth.NullString,
        NOW + day, null, NOW)
    val (installed, _) = pumpRegistry(PhoneSession.withNullString(DEVICE, NOW), registryServer(registry), KotlinKeystore())
    check(installed is PhoneOutcome.Installed, "installed before the deadline: $installed")
    checkEquals("upgrade-success", registry.deviceStatus(DEVICE).slug, "success slug")

    // Settings: the library's defaults, set through its one parser.
    fun setting(name: String) = registry.settings().single { it.name == name }.value
    checkEquals("1825", setting("validity-days"), "default validity")
    registry.setSetting("validity-days", "30", NOW)
    checkEquals("30", setting("validity-days"), "validity set")
    expectThrows<RegistryException.InvalidInput>("validity of 0 days") {
        registry.setSetting("validity-days", "0", NOW)
    }
    expectThrows<RegistryException.InvalidInput>("unknown setting") {
        registry.setSetting("lsc-lifetime", "30", NOW)
    }
    checkEquals("30", setting("validity-days"), "a refused value changes nothing")
    expectThrows<RegistryException.Registry>("status of an unknown device") {
        registry.deviceStatus("SEP00000000BEEF")
    }
}

/** The offline CA's registry side: requests listed, imports refused with their reason, stale ones deleted. */
fun testRegistryOfflineCaImports() {
    val registry = CapfRegistry.open(freshRegistryPath(), null)
    registry.putDevice(DEVICE, Operation.Install(KeySpec.Ec(EcCurve.P256)), DeviceAuth.AuthString("246810"), NOW)
    val (p, _) = pumpRegistry(PhoneSession.withAuthString(DEVICE, "246810", NOW), registryServer(registry), KotlinKeystore())
    check(p is PhoneOutcome.Installed, "installed by the local CA: $p")
    checkEquals(0, registry.certificateRequests(false).size, "the local CA keeps no request")
    // An LSC no request asked for: refused, naming the device; the ledger is unchanged.
    val lsc = registry.certificates(DEVICE).single().der
    val unknown = expectThrows<RegistryException.ImportRefused>("a certificate no request asked for") {
        registry.importCertificate(lsc, NOW)
    }
    val message = unknown.message ?: ""
    check(message.contains("unknown device") && message.contains(DEVICE), "the reason names the device: $message")
    val garbage = expectThrows<RegistryException.ImportRefused>("bytes that are no certificate") {
        registry.importCertificate(byteArrayOf(0x30, 0x03, 0x02, 0x01, 0x01), NOW)
    }
    check((garbage.message ?: "").contains("not a certificate"), "the reason: ${garbage.message}")
    checkEquals(1, registry.certificates(DEVICE).size, "nothing imported")
    checkEquals(0uL, registry.deleteStaleCertificateRequests(NOW), "nothing stale to delete")
    checkEquals(0, registry.certificateRequests(true).size, "no stale request")
}

/** The offline CA as a server host: RegistryServerSession.withOfflineCa keeps the phone's request and
 *  defers the session (END_SESSION 0; the phone: CertificatePending); the request is listed with the
 *  phone's key and the request it signed in Kotlin (JCA); a certificate signed for that key is imported
 *  into the ledger, and the phone's next session, naming its pending key, stores it without a new key. */
fun testRegistryServerAsOfflineCa() {
    val registry = CapfRegistry.open(freshRegistryPath(), null)
    registry.putDevice(DEVICE, Operation.Install(KeySpec.Ec(EcCurve.P256)), DeviceAuth.AuthString("246810"), NOW)
    val keystore = KotlinKeystore()
    val offline = RegistryServerSession.withOfflineCa(registry, serverOptions(), NOW)
    val withRequest = PhoneOptions(sendCertificateRequest = true, pendingKeySpkiDer = null)
    val (p, s) = pumpRegistry(PhoneSession.withAuthString(DEVICE, "246810", NOW, withRequest), offline, keystore)
    checkEquals(PhoneOutcome.CertificatePending, p, "the phone's outcome")
    check(s.result is ServerResult.IssueRefused, "deferred: $s")
    checkEquals(0.toUByte(), s.endReason, "END_SESSION 0")
    checkEquals(listOf(CertificateRequestAlgorithm.ECDSA_SHA256), keystore.requestsSigned, "signed in Kotlin")
    val request = registry.certificateRequests(false).single()
    checkEquals(DEVICE, request.deviceName, "the request's device")
    checkEquals("pending", request.state, "pending")
    checkEquals(0, registry.certificates(DEVICE).size, "nothing issued")
    // The phone's key as the JCA encodes it (not as the code under test does).
    val pendingKey = keystore.keys.single().public.encoded
    check(request.publicKeyDer.contentEquals(pendingKey), "the phone's key is kept")
    val csr = request.csrDer ?: throw Failure("the phone-signed request is kept")
    check(csr.size > pendingKey.size && String(csr, Charsets.ISO_8859_1).contains(String(pendingKey, Charsets.ISO_8859_1)),
        "the request carries the key")
    val signed = capfIssuer().issue(DEVICE, request.publicKeyDer, NOW, 365u)
    registry.importCertificate(signed.der, NOW)
    checkEquals("imported", registry.certificateRequests(false).single().state, "imported")
    checkEquals("pending", registry.certificates(DEVICE).single().state, "in the ledger, for the next session")
    // The next session names the pending key: the certificate comes without a KEY_GEN.
    val again = RegistryServerSession.withOfflineCa(registry, serverOptions(), NOW)
    val (p2, s2) = pumpRegistry(PhoneSession.withAuthString(DEVICE, "246810", NOW,
        PhoneOptions(sendCertificateRequest = true, pendingKeySpkiDer = pendingKey)), again, keystore)
    check(p2 is PhoneOutcome.Installed, "installed: $p2")
    check(s2.result is ServerResult.Installed, "server installed: ${s2.result}")
    check((p2 as PhoneOutcome.Installed).certificateDer.contentEquals(signed.der), "the imported certificate")
    checkEquals(1, keystore.keys.size, "no new key")
    check(x509(p2.certificateDer).publicKey.encoded.contentEquals(pendingKey), "for the pending key")
    checkEquals("installed", registry.certificates(DEVICE).single().state, "installed in the ledger")
}

/** EST from Kotlin: an EstIssuer given to RegistryServerSession.withEst. A phone that sends no signed
 *  request is refused before the CA is asked (the CA here is unreachable), with END_SESSION 7 and the
 *  status "CA Rejected Connection" (capf-registry's rule); bad options are InvalidInput. */
fun testRegistryEstIssuer() {
    val caPem = pemText(capfPem(), "CERTIFICATE")
    val est = EstIssuer("https://127.0.0.1:1", caPem, "capf", "secret", null, null, 2uL)
    checkEquals(2uL, est.timeoutSeconds(), "EST timeout")
    expectThrows<ServerException.Issuance>("an unreachable CA's /cacerts") { est.caCertificates() }
    expectThrows<ServerException.InvalidInput>("an http URL") {
        EstIssuer("http://127.0.0.1:1", caPem, null, null, null, null, 2uL)
    }
    expectThrows<ServerException.InvalidInput>("a user without password") {
        EstIssuer("https://127.0.0.1:1", caPem, "capf", null, null, null, 2uL)
    }
    val registry = CapfRegistry.open(freshRegistryPath(), null)
    registry.putDevice(DEVICE, Operation.Install(KeySpec.Ec(EcCurve.P256)), DeviceAuth.NullString, NOW)
    val server = RegistryServerSession.withEst(registry, est, serverOptions(), NOW)
    val (p, s) = pumpRegistry(PhoneSession.withNullString(DEVICE, NOW), server, KotlinKeystore())
    check(p !is PhoneOutcome.Installed, "no LSC without a signed request: $p")
    checkEquals(7.toUByte(), s.endReason, "END_SESSION 7")
    checkEquals("Upgrade Failed: CA Rejected Connection", registry.deviceStatus(DEVICE).status, "CA status")
    checkEquals(0, registry.certificates(DEVICE).size, "nothing issued")
}

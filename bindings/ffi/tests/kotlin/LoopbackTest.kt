// JVM tests of the capf Kotlin bindings against a real `capf serve` on
// loopback (real TLS, a real SQLite registry, certificates made with
// openssl), one per authentication mode: null string, authentication
// string, LSC and MIC. Run by scripts/test-kotlin.sh, which starts the
// server and passes: the `capf` binary, the folder with the PKI and the
// registry (capf.pem, manufacturing.pem, mic.pem, mic.key, capf.db) and
// the server's HOST:PORT. The phone's keys live in the Kotlin keystore
// (java.security); only public keys and signatures cross into Rust.

import org.capf.*
import java.io.File
import java.net.InetSocketAddress
import java.net.Socket
import java.net.SocketTimeoutException
import java.security.KeyFactory
import java.security.KeyPair
import java.security.spec.PKCS8EncodedKeySpec

lateinit var capfBinary: String
lateinit var pki: File
lateinit var serverHost: String
var serverPort: Int = 0
lateinit var tvsHost: String
var tvsPort: Int = 0

/** The app's LSC storage, in Kotlin. */
class KotlinCertificateStore : CertificateStore {
    val stored = mutableMapOf<String, ByteArray>()
    var refuse = false

    override fun storeCertificate(deviceName: String, certificateDer: ByteArray) {
        if (refuse) throw KeystoreException.Failed("storage full")
        stored[deviceName] = certificateDer
    }

    override fun fetchCertificate(deviceName: String): ByteArray? = stored[deviceName]

    override fun deleteCertificate(deviceName: String): Boolean = stored.remove(deviceName) != null
}

fun nowMillis(): ULong = System.currentTimeMillis().toULong()

/** Runs `capf ARGS…` (registry administration) and fails the test if it fails. */
fun capf(vararg args: String): String {
    val process = ProcessBuilder(listOf(capfBinary) + args).redirectErrorStream(true).start()
    val output = process.inputStream.bufferedReader().readText()
    val status = process.waitFor()
    check(status == 0, "capf ${args.joinToString(" ")} exited $status: $output")
    return output
}

fun addDevice(device: String, auth: String, key: String, vararg extra: String) {
    capf("device", "add", "--db", File(pki, "capf.db").path, device, "--operation", "install",
        "--auth", auth, "--key", key, *extra)
}

/** The certificate ledger of `device` as `capf device show --json` prints it (serial, state). */
fun ledgerStates(device: String): String =
    capf("device", "show", "--db", File(pki, "capf.db").path, device, "--json")

fun capfCertificatePem(): ByteArray = File(pki, "capf.pem").readBytes()

/** The LSC was issued by the CAPF certificate, names the device and carries `publicKey`. */
fun checkLsc(der: ByteArray, device: String, publicKey: ByteArray) {
    val lsc = x509(der)
    val capfCertificate = x509(pemBlock(File(pki, "capf.pem").readText(), "CERTIFICATE"))
    lsc.verify(capfCertificate.publicKey) // throws if not signed by the CAPF key
    check(lsc.subjectX500Principal.name.contains(device), "the LSC names $device: ${lsc.subjectX500Principal}")
    check(lsc.publicKey.encoded.contentEquals(publicKey), "the LSC carries the key made in Kotlin")
}

/**
 * Drives a PhoneConnection over a java.net.Socket: the app moves the
 * ciphertext, the connection keeps the TLS rules, the decisions are
 * answered through the session with the Kotlin keystore and store.
 */
fun driveConnection(
    connection: PhoneConnection,
    socket: Socket,
    keystore: PhoneKeystore,
    store: KotlinCertificateStore,
    device: String,
): PhoneOutcome {
    val session = connection.session()
    val input = socket.getInputStream()
    val output = socket.getOutputStream()
    val buffer = ByteArray(16 * 1024)
    var tlsFailure: String? = null
    repeat(100_000) {
        while (true) {
            when (val out = connection.pollOutput() ?: break) {
                is PhoneConnectionOutput.Transmit -> try {
                    output.write(out.bytes)
                    output.flush()
                } catch (e: java.io.IOException) {
                    connection.handleTransportError()
                }
                is PhoneConnectionOutput.Need -> when (val decision = out.decision) {
                    is PhoneDecision.StoreCertificate -> {
                        store.storeCertificate(device, decision.certificateDer)
                        session.answerStore()
                    }
                    is PhoneDecision.FetchCertificate -> session.answerFetch(store.fetchCertificate(device))
                    is PhoneDecision.DeleteCertificate -> session.answerDelete(store.deleteCertificate(device))
                    else -> check(session.answerWithKeystore(decision, keystore), "keystore answered $decision")
                }
                is PhoneConnectionOutput.TlsFailed -> tlsFailure = out.message
                is PhoneConnectionOutput.Done -> {
                    socket.close()
                    return out.outcome
                }
                is PhoneConnectionOutput.Abandoned -> {
                    socket.close()
                    throw Failure("connection abandoned (${out.reason}); TLS: $tlsFailure")
                }
            }
        }
        val deadline = connection.pollTimeout()
        val wait = deadline?.let { (it.toLong() - System.currentTimeMillis()).coerceIn(1, 60_000) } ?: 60_000
        socket.soTimeout = wait.toInt()
        try {
            val n = input.read(buffer)
            if (n < 0) connection.handleTcpClosed() else connection.handleTcpInput(buffer.copyOf(n))
        } catch (e: SocketTimeoutException) {
            connection.handleTimeout(nowMillis())
        } catch (e: java.io.IOException) {
            connection.handleTcpClosed()
        }
    }
    throw Failure("the connection did not finish")
}

fun connect(): Socket = Socket().apply {
    connect(InetSocketAddress(serverHost, serverPort), 10_000)
    tcpNoDelay = true
}

fun testNullStringThroughBlockingEnroll() {
    val device = "SEP0000000000A1"
    addDevice(device, "null", "ec:p256")
    val keystore = KotlinKeystore()
    val store = KotlinCertificateStore()
    val outcome = enroll(serverHost, serverPort.toUShort(), capfCertificatePem(),
        PhoneSession.withNullString(device, nowMillis()), keystore, store, 10_000uL)
    check(outcome is PhoneOutcome.Installed, "installed: $outcome")
    val der = (outcome as PhoneOutcome.Installed).certificateDer
    checkEquals(1, keystore.keys.size, "keys made in Kotlin")
    checkLsc(der, device, keystore.keys[0].public.encoded)
    check(store.stored[device].contentEquals(der), "the store kept the installed LSC")
    check(ledgerStates(device).contains("\"installed\""), "the registry's ledger says installed")
}

/** Enrolls `device` with an authentication string; returns the keystore and the LSC. */
fun testAuthStringThroughBlockingEnroll(): Pair<KotlinKeystore, ByteArray> {
    val device = "SEP0000000000A2"
    addDevice(device, "auth-string", "rsa:2048", "--auth-string", "246810")
    val keystore = KotlinKeystore()
    val store = KotlinCertificateStore()
    // The wrong string: refused, nothing stored.
    val wrong = enroll(serverHost, serverPort.toUShort(), capfCertificatePem(),
        PhoneSession.withAuthString(device, "135790", nowMillis()), keystore, store, 10_000uL)
    check(wrong is PhoneOutcome.Refused, "a wrong authentication string is refused: $wrong")
    check(store.stored.isEmpty(), "nothing stored after a refusal")
    // The right one: an RSA-2048 LSC for the key made in Kotlin.
    val outcome = enroll(serverHost, serverPort.toUShort(), capfCertificatePem(),
        PhoneSession.withAuthString(device, "246810", nowMillis()), keystore, store, 10_000uL)
    check(outcome is PhoneOutcome.Installed, "installed: $outcome")
    val der = (outcome as PhoneOutcome.Installed).certificateDer
    val key = keystore.keys.last()
    checkEquals("RSA", key.public.algorithm, "the server asked for RSA")
    checkLsc(der, device, key.public.encoded)
    return keystore to der
}

/** LSC authentication through the TLS-connection object: the proof is signed in Kotlin. */
fun testLscThroughConnectionObject(keystore: KotlinKeystore, lsc: ByteArray) {
    val device = "SEP0000000000A2"
    addDevice(device, "lsc", "ec:p256")
    val store = KotlinCertificateStore()
    val session = PhoneSession.withCertificate(device, CertificatePrecedence.LSC_FIRST, lsc, null, null, nowMillis())
    val connection = PhoneConnection(session, capfCertificatePem(), serverHost, 10_000uL, nowMillis())
    val signedBefore = keystore.signed.size
    val outcome = connect().use { driveConnection(connection, it, keystore, store, device) }
    check(outcome is PhoneOutcome.Installed, "installed: $outcome")
    check(keystore.signed.size > signedBefore, "the LSC's proof was signed by the Kotlin keystore")
    checkEquals(ProofCredential.LSC, keystore.signed.last().first, "the proof credential")
    val der = (outcome as PhoneOutcome.Installed).certificateDer
    checkLsc(der, device, keystore.keys.last().public.encoded)
    checkEquals("EC", keystore.keys.last().public.algorithm, "the new LSC's key")
    check(connection.isDone(), "the connection is over")
    check(connection.peerCertificates().first().contentEquals(pemBlock(File(pki, "capf.pem").readText(), "CERTIFICATE")),
        "the server presented the CAPF certificate")
}

/** MIC authentication (RSA MIC from a manufacturing CA), its key imported into the Kotlin keystore. */
fun testMicThroughConnectionObjectAndBlockingEnroll() {
    val device = "SEP0000000000C4"
    addDevice(device, "mic", "ec:p256")
    val micPem = File(pki, "mic.pem").readText()
    val mic = pemBlock(micPem, "CERTIFICATE")
    val micKey = KeyFactory.getInstance("RSA")
        .generatePrivate(PKCS8EncodedKeySpec(pemBlock(File(pki, "mic.key").readText(), "PRIVATE KEY")))
    val keystore = KotlinKeystore()
    keystore.keys.add(KeyPair(x509(mic).publicKey, micKey))
    val store = KotlinCertificateStore()
    // Through the connection object.
    val session = PhoneSession.withCertificate(device, CertificatePrecedence.MIC_FIRST, null, mic, null, nowMillis())
    val connection = PhoneConnection(session, capfCertificatePem(), "127.0.0.1", null, nowMillis())
    val outcome = connect().use { driveConnection(connection, it, keystore, store, device) }
    check(outcome is PhoneOutcome.Installed, "installed through the connection: $outcome")
    check(keystore.signed.any { it.first == ProofCredential.MIC }, "the MIC proof was signed in Kotlin")
    checkLsc((outcome as PhoneOutcome.Installed).certificateDer, device, keystore.keys.last().public.encoded)
    // And again through the blocking enroll (scheduled anew).
    addDevice(device, "mic", "ec:p256")
    val again = enroll(serverHost, serverPort.toUShort(), capfCertificatePem(),
        PhoneSession.withCertificate(device, CertificatePrecedence.MIC_FIRST, null, mic, null, nowMillis()),
        keystore, store, 10_000uL)
    check(again is PhoneOutcome.Installed, "installed through enroll(): $again")
    checkLsc((again as PhoneOutcome.Installed).certificateDer, device, keystore.keys.last().public.encoded)
}

fun testUntrustedUnreachableAndBadInputRaise() {
    val device = "SEP0000000000A5"
    addDevice(device, "null", "ec:p256")
    val store = KotlinCertificateStore()
    // Trusting another certificate: the server is not the pinned one.
    val untrusted = expectThrows<EnrollException.TlsFailed>("untrusted server") {
        enroll(serverHost, serverPort.toUShort(), File(pki, "manufacturing.pem").readBytes(),
            PhoneSession.withNullString(device, nowMillis()), KotlinKeystore(), store, 10_000uL)
    }
    check(untrusted.message?.contains("certificate") == true, "says why: ${untrusted.message}")
    // Junk as the server trust: bad input, nothing sent.
    expectThrows<EnrollException.InvalidInput>("junk trust") {
        enroll(serverHost, serverPort.toUShort(), "junk".toByteArray(),
            PhoneSession.withNullString(device, nowMillis()), KotlinKeystore(), store, 10_000uL)
    }
    expectThrows<ConnectionException.InvalidTrust>("junk trust for the connection object") {
        PhoneConnection(PhoneSession.withNullString(device, nowMillis()), ByteArray(0), "127.0.0.1", null, nowMillis())
    }
    // A port nothing listens on (the server's port + a closed listener's).
    val closedPort = java.net.ServerSocket(0, 1, java.net.InetAddress.getByName(serverHost)).use { it.localPort }
    expectThrows<EnrollException.Unreachable>("unreachable server") {
        enroll(serverHost, closedPort.toUShort(), capfCertificatePem(),
            PhoneSession.withNullString(device, nowMillis()), KotlinKeystore(), store, 2_000uL)
    }
    expectThrows<EnrollException.Unreachable>("unresolvable host") {
        enroll("no-such-host.invalid", serverPort.toUShort(), capfCertificatePem(),
            PhoneSession.withNullString(device, nowMillis()), KotlinKeystore(), store, 2_000uL)
    }
    // A store that cannot keep the LSC: the phone tells the server, nothing installed.
    store.refuse = true
    val refused = enroll(serverHost, serverPort.toUShort(), capfCertificatePem(),
        PhoneSession.withNullString(device, nowMillis()), KotlinKeystore(), store, 10_000uL)
    check(refused is PhoneOutcome.StoreFailed, "a store failure is the outcome: $refused")
    check(store.stored.isEmpty(), "nothing stored")
    check(!ledgerStates(device).contains("\"installed\""), "the registry did not record an install")
}

/** Asks `capf serve`'s TVS about `certificate` through a TvsClientConnection over a java.net.Socket. */
fun askTvsOverTls(certificate: ByteArray, trust: ByteArray): TvsClientResult {
    val session = TvsClientSession(0x2445u, "CP-8865-SEP0000000000C4", certificate, nowMillis())
    val connection = TvsClientConnection(session, trust, tvsHost, 10_000uL, nowMillis())
    val socket = Socket().apply { connect(InetSocketAddress(tvsHost, tvsPort), 10_000) }
    socket.use { tcp ->
        val buffer = ByteArray(16 * 1024)
        var tlsFailure: String? = null
        repeat(100_000) {
            while (true) {
                when (val out = connection.pollOutput() ?: break) {
                    is TvsConnectionOutput.Transmit -> try {
                        tcp.outputStream.write(out.bytes)
                    } catch (e: java.io.IOException) {
                        connection.handleTransportError()
                    }
                    is TvsConnectionOutput.TlsFailed -> tlsFailure = out.message
                    is TvsConnectionOutput.Done -> return out.result
                    is TvsConnectionOutput.Abandoned -> throw Failure("abandoned (${out.reason}); TLS: $tlsFailure")
                }
            }
            val wait = connection.pollTimeout()?.let { d -> (d.toLong() - System.currentTimeMillis()).coerceIn(1, 60_000) } ?: 60_000
            tcp.soTimeout = wait.toInt()
            try {
                val n = tcp.inputStream.read(buffer)
                if (n < 0) connection.handleTcpClosed() else connection.handleTcpInput(buffer.copyOf(n))
            } catch (e: SocketTimeoutException) {
                connection.handleTimeout(nowMillis())
            } catch (e: java.io.IOException) {
                connection.handleTcpClosed()
            }
        }
    }
    throw Failure("the TVS connection did not finish")
}

fun testTvsThroughConnectionObject() {
    val mic = pemBlock(File(pki, "mic.pem").readText(), "CERTIFICATE")
    capf("tvs", "add", "--db", File(pki, "capf.db").path, "--role", "ccm", "--ttl", "600", File(pki, "mic.pem").path)
    // The TVS certificate is --cert (capf.pem), named directly: a trust anchor.
    val valid = askTvsOverTls(mic, capfCertificatePem())
    checkEquals(TvsClientResult.Valid(listOf(TrustRole.CallManager), 600u), valid, "a registered certificate")
    val unknown = askTvsOverTls(pemBlock(File(pki, "manufacturing.pem").readText(), "CERTIFICATE"), capfCertificatePem())
    checkEquals(TvsClientResult.Invalid, unknown, "an unregistered certificate")
    // Trusting another certificate: TLS fails, the session says so.
    val untrusted = askTvsOverTls(mic, File(pki, "manufacturing.pem").readBytes())
    check(untrusted is TvsClientResult.TransportFailed, "an untrusted TVS server: $untrusted")
}

fun main(args: Array<String>) {
    capfBinary = args[0]
    pki = File(args[1])
    val address = args[2]
    serverHost = address.substringBeforeLast(':')
    serverPort = address.substringAfterLast(':').toInt()
    tvsHost = args[3].substringBeforeLast(':')
    tvsPort = args[3].substringAfterLast(':').toInt()
    val tests = TestRunner("loopback_", "kotlin loopback tests")
    var enrolled: Pair<KotlinKeystore, ByteArray>? = null
    tests.run("null_string_through_blocking_enroll") { testNullStringThroughBlockingEnroll() }
    tests.run("auth_string_through_blocking_enroll") { enrolled = testAuthStringThroughBlockingEnroll() }
    tests.run("lsc_through_connection_object") {
        val (keystore, lsc) = enrolled ?: throw Failure("needs auth_string_through_blocking_enroll")
        testLscThroughConnectionObject(keystore, lsc)
    }
    tests.run("mic_through_connection_object_and_blocking_enroll") { testMicThroughConnectionObjectAndBlockingEnroll() }
    tests.run("untrusted_unreachable_and_bad_input_raise") { testUntrustedUnreachableAndBadInputRaise() }
    tests.run("tvs_through_connection_object") { testTvsThroughConnectionObject() }
    tests.finish()
}

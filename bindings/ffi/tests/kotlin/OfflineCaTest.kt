// JVM tests of the phone's side of the offline CA against a real
// `capf serve --offline-ca` on loopback (real TLS, a real SQLite registry;
// the offline CA is an openssl-made CA, used by openssl only). Run by
// scripts/test-kotlin.sh, which starts the server and passes: the `capf`
// binary, the PKI folder (capf.pem, offline-ca.pem, offline-ca.key), the
// server's registry and its HOST:PORT.
//
// The phone (blocking `enroll`, keys made in the Kotlin keystore) sends its
// key with a request it signed in Kotlin and is told the certificate is
// pending; the admin lists and exports the request (`capf ca csr`), signs it
// with openssl and imports it (`capf ca import`); the phone's next session,
// naming its pending key, stores the certificate without a new key. A
// session naming another key refuses the certificate and keeps its key.

import org.capf.*
import java.io.File
import java.security.KeyPairGenerator
import java.security.spec.ECGenParameterSpec
import java.util.Base64

lateinit var offlineDb: File
lateinit var offlineHost: String
var offlinePort: Int = 0

/** Runs `openssl ARGS…` in the PKI folder; fails the test if it fails. Returns stdout + stderr. */
fun openssl(vararg args: String): String {
    val process = ProcessBuilder(listOf("openssl") + args).directory(pki).redirectErrorStream(true).start()
    val output = process.inputStream.bufferedReader().readText()
    val status = process.waitFor()
    check(status == 0, "openssl ${args.joinToString(" ")} exited $status: $output")
    return output
}

/** DER as PEM, as openssl prints it (64-column base64). */
fun pemOf(label: String, der: ByteArray): String =
    "-----BEGIN $label-----\n" + Base64.getMimeEncoder(64, "\n".toByteArray()).encodeToString(der) +
        "\n-----END $label-----\n"

/** One blocking enrollment of `device` (null string) against the offline-CA server. */
fun enrollOffline(device: String, keystore: PhoneKeystore, store: CertificateStore, options: PhoneOptions?): PhoneOutcome =
    enroll(offlineHost, offlinePort.toUShort(), capfCertificatePem(),
        PhoneSession.withNullString(device, nowMillis(), options), keystore, store, 20_000uL)

/** The JSON object `capf ca csr list --json` prints for `device` (whitespace removed). */
fun listedRequest(device: String): String {
    val listed = capf("ca", "csr", "list", "--db", offlineDb.path, "--json").replace(Regex("\\s"), "")
    return listed.split("},{").singleOrNull { it.contains("\"device\":\"$device\"") }
        ?: throw Failure("capf ca csr list does not list $device once: $listed")
}

fun addOfflineDevice(device: String) {
    capf("device", "add", "--db", offlineDb.path, device, "--operation", "install", "--auth", "null", "--key", "ec:p256")
}

fun testSignedRequestIsPendingThenStoredForThePendingKey() {
    val device = "SEP0000000000D1"
    addOfflineDevice(device)
    val keystore = KotlinKeystore()
    val store = KotlinCertificateStore()
    // First session: the key and a request signed in Kotlin go out; the server defers.
    val first = enrollOffline(device, keystore, store, PhoneOptions(sendCertificateRequest = true, pendingKeySpkiDer = null))
    checkEquals(PhoneOutcome.CertificatePending, first, "the first session's outcome")
    checkEquals(1, keystore.keys.size, "one key made in Kotlin")
    checkEquals(listOf(CertificateRequestAlgorithm.ECDSA_SHA256), keystore.requestsSigned, "the request signed in Kotlin")
    check(store.stored.isEmpty(), "nothing stored yet")
    val pendingKey = keystore.keys.single().public.encoded

    // The admin's side: listed as pending with a phone-signed CSR, exported, checked and signed by openssl.
    val listed = listedRequest(device)
    check(listed.contains("\"state\":\"pending\""), "pending: $listed")
    check(listed.contains("\"phone_signed_csr\":true"), "with the phone's CSR: $listed")
    val out = File(pki, "offline-out")
    capf("ca", "csr", "export", "--db", offlineDb.path, "--out", out.path)
    val csr = File(out, "$device.csr").path
    check(openssl("req", "-in", csr, "-noout", "-verify").contains("verify OK"), "openssl verifies the phone's signature")
    checkEquals("subject=CN=$device", openssl("req", "-in", csr, "-noout", "-subject", "-nameopt", "RFC2253").trim(),
        "the CSR's subject")
    checkEquals(pemOf("PUBLIC KEY", pendingKey), openssl("req", "-in", csr, "-noout", "-pubkey"),
        "the CSR carries the key made in Kotlin (JCA encoding)")
    val signed = File(pki, "$device-signed.pem").path
    openssl("x509", "-req", "-in", csr, "-CA", "offline-ca.pem", "-CAkey", "offline-ca.key", "-days", "30",
        "-set_serial", "0x7001", "-out", signed)
    capf("ca", "import", "--db", offlineDb.path, signed)
    check(listedRequest(device).contains("\"state\":\"imported\""), "imported")

    // Next session, naming the pending key: the certificate comes without a KEY_GEN and is stored.
    val second = enrollOffline(device, keystore, store, PhoneOptions(sendCertificateRequest = true, pendingKeySpkiDer = pendingKey))
    check(second is PhoneOutcome.Installed, "installed: $second")
    val der = (second as PhoneOutcome.Installed).certificateDer
    checkEquals(1, keystore.keys.size, "no new key")
    checkEquals(1, keystore.requestsSigned.size, "no new request")
    check(der.contentEquals(pemBlock(File(signed).readText(), "CERTIFICATE")), "the certificate openssl signed")
    val lsc = x509(der)
    check(lsc.publicKey.encoded.contentEquals(pendingKey), "for the first session's key")
    lsc.verify(x509(pemBlock(File(pki, "offline-ca.pem").readText(), "CERTIFICATE")).publicKey)
    check(store.stored[device].contentEquals(der), "the store kept it")
    check(ledgerStatesIn(offlineDb, device).contains("\"installed\""), "the registry's ledger says installed")
}

fun testACertificateForAnotherKeyIsRefusedAndTheKeyKept() {
    val device = "SEP0000000000D2"
    addOfflineDevice(device)
    val keystore = KotlinKeystore()
    val store = KotlinCertificateStore()
    // Without a request (the default options): the bare key is kept by the server.
    val first = enrollOffline(device, keystore, store, null)
    checkEquals(PhoneOutcome.CertificatePending, first, "the first session's outcome")
    check(keystore.requestsSigned.isEmpty(), "no request signed")
    check(listedRequest(device).contains("\"phone_signed_csr\":false"), "no CSR: ${listedRequest(device)}")
    val pendingKey = keystore.keys.single().public.encoded
    val out = File(pki, "offline-out-bare")
    capf("ca", "csr", "export", "--db", offlineDb.path, "--out", out.path)
    val signed = File(pki, "$device-signed.pem").path
    openssl("x509", "-new", "-subj", "/CN=$device", "-force_pubkey", File(out, "$device.pub.pem").path,
        "-CA", "offline-ca.pem", "-CAkey", "offline-ca.key", "-days", "30", "-set_serial", "0x7002", "-out", signed)
    capf("ca", "import", "--db", offlineDb.path, signed)

    // The phone comes back naming another key (made here, never sent) as pending.
    val other = KeyPairGenerator.getInstance("EC").apply { initialize(ECGenParameterSpec("secp256r1")) }.generateKeyPair()
    val second = enrollOffline(device, keystore, store,
        PhoneOptions(sendCertificateRequest = false, pendingKeySpkiDer = other.public.encoded))
    check(second is PhoneOutcome.StoreFailed, "STORE failure: $second")
    check(store.stored.isEmpty(), "nothing stored")
    checkEquals(1, keystore.keys.size, "no new key; the pending key is kept")
    check(keystore.keys.single().public.encoded.contentEquals(pendingKey), "the same pending key")
    check(!ledgerStatesIn(offlineDb, device).contains("\"installed\""), "the registry did not record an install")
}

/** `capf device show --json` of `device` in registry `db`. */
fun ledgerStatesIn(db: File, device: String): String = capf("device", "show", "--db", db.path, device, "--json")

fun main(args: Array<String>) {
    capfBinary = args[0]
    pki = File(args[1]).absoluteFile // openssl runs in it: absolute paths
    offlineDb = File(args[2]).absoluteFile
    offlineHost = args[3].substringBeforeLast(':')
    offlinePort = args[3].substringAfterLast(':').toInt()
    val tests = TestRunner("offline_ca_", "kotlin offline CA tests")
    tests.run("signed_request_is_pending_then_stored_for_the_pending_key") { testSignedRequestIsPendingThenStoredForThePendingKey() }
    tests.run("a_certificate_for_another_key_is_refused_and_the_key_kept") { testACertificateForAnotherKeyIsRefusedAndTheKeyKept() }
    tests.finish()
}

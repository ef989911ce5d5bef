// Enrolls this machine as a Cisco IP phone with a CAPF server, through the
// capf Kotlin bindings (org.capf): the blocking `enroll(...)` does the TCP
// and TLS, the software keystore makes the key, and the issued LSC is
// written with its key as PEM. Copy and adapt: on Android, replace
// SoftwareKeystore with an implementation of PhoneKeystore over the
// Android Keystore (see bindings/ffi/README.md).
//
// Usage (through run.sh, which builds what it needs):
//   run.sh --server HOST:PORT --ca CAPF.pem|CTLFile.tlv --device NAME --out LSC.pem \
//     [--auth-string DIGITS] [--send-csr]
// --send-csr also sends a PKCS#10 request signed by the new key, as
// `capf enroll --send-csr`. A key whose certificate is pending at an
// offline CA is kept, as `capf enroll` keeps it, in LSC.pem.pending-key.pem
// (owner-only; the same format, so either tool may finish the enrollment)
// and named as the pending key at the next run.
// Exits as `capf enroll` does: 0 installed (or nothing to do), 1 refused,
// 2 bad usage or server unreachable, 3 certificate pending at the CA.

import org.capf.*
import java.io.File
import java.nio.file.Files
import java.nio.file.StandardCopyOption
import java.nio.file.attribute.PosixFilePermissions
import java.security.cert.CertificateFactory
import java.util.Base64
import kotlin.system.exitProcess

const val USAGE = "usage: run.sh --server HOST:PORT --ca CAPF.pem|CTLFile.tlv --device NAME --out LSC.pem " +
    "[--auth-string DIGITS] [--send-csr]"

/** Exit status when the certificate is pending at an offline CA (as `capf enroll`). */
const val PENDING = 3

fun fail(status: Int, message: String, usage: Boolean = status == 2): Nothing {
    System.err.println("Enroll: $message")
    if (usage) System.err.println(USAGE)
    exitProcess(status)
}

fun pem(label: String, der: ByteArray): String =
    "-----BEGIN $label-----\n" + Base64.getMimeEncoder(64, "\n".toByteArray()).encodeToString(der) + "\n-----END $label-----\n"

/** The one `label` PEM block of `text`, decoded, or null. */
fun pemBlock(text: String, label: String): ByteArray? {
    val begin = "-----BEGIN $label-----"
    val end = "-----END $label-----"
    val start = text.indexOf(begin)
    val stop = text.indexOf(end)
    if (start < 0 || stop < start) return null
    return Base64.getMimeDecoder().decode(text.substring(start + begin.length, stop))
}

/** Writes `text` to `file`, owner-only, replacing it atomically. */
fun writeOwnerOnly(file: File, text: String) {
    val temporary = File(file.path + ".tmp").toPath()
    Files.deleteIfExists(temporary)
    Files.createFile(temporary, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))
    Files.writeString(temporary, text)
    Files.move(temporary, file.toPath(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE)
}

/** Where a key whose certificate is pending is kept: `OUT.pending-key.pem`, as `capf enroll` keeps it. */
fun pendingKeyFile(out: File) = File(out.path + ".pending-key.pem")

/**
 * The software keystore, keeping each new key (PKCS#8 + its public key, PEM) beside the LSC file
 * before the key goes out: an offline CA may sign it later, and the next run needs it.
 */
class KeptKeystore(private val keystore: SoftwareKeystore, private val pending: File) : PhoneKeystore {
    private val inner = keystore.asKeystore()

    override fun generateKey(deviceName: String, key: KeySpec): ByteArray {
        val spki = inner.generateKey(deviceName, key)
        try {
            writeOwnerOnly(pending, keystore.exportPkcs8Pem(spki) + pem("PUBLIC KEY", spki))
        } catch (e: java.io.IOException) {
            throw KeystoreException.Failed("cannot keep the new key in ${pending.path}: ${e.message}")
        }
        return spki
    }

    override fun signProof(request: ProofRequest): ByteArray = inner.signProof(request)

    override fun signCertificateRequest(request: CertificateRequestToSign): ByteArray =
        inner.signCertificateRequest(request)
}

/** The phone's LSC file (certificate + PKCS#8 key, PEM), as `capf enroll --out` keeps it. */
class LscFile(private val out: File, private val keystore: SoftwareKeystore) : CertificateStore {
    override fun storeCertificate(deviceName: String, certificateDer: ByteArray) {
        val spki = CertificateFactory.getInstance("X.509")
            .generateCertificate(certificateDer.inputStream()).publicKey.encoded
        val key = keystore.exportPkcs8Pem(spki) // the key made for this certificate
        try {
            writeOwnerOnly(out, pem("CERTIFICATE", certificateDer) + key)
        } catch (e: java.io.IOException) {
            throw KeystoreException.Failed("cannot write ${out.path}: ${e.message}")
        }
        pendingKeyFile(out).delete() // the key is in the LSC file now
    }

    override fun fetchCertificate(deviceName: String): ByteArray? =
        if (out.exists()) pemBlock(out.readText(), "CERTIFICATE") else null

    override fun deleteCertificate(deviceName: String): Boolean = out.delete()
}

fun main(args: Array<String>) {
    val options = mutableMapOf<String, String>()
    var sendCsr = false
    var i = 0
    while (i < args.size) {
        val name = args[i]
        if (name == "--send-csr") {
            sendCsr = true
            i += 1
            continue
        }
        if (name !in setOf("--server", "--ca", "--device", "--out", "--auth-string")) fail(2, "unknown argument $name")
        options[name] = args.getOrNull(i + 1) ?: fail(2, "$name needs a value")
        i += 2
    }
    val server = options["--server"] ?: fail(2, "--server is required")
    val ca = options["--ca"] ?: fail(2, "--ca is required")
    val device = options["--device"] ?: fail(2, "--device is required")
    val out = File(options["--out"] ?: fail(2, "--out is required"))
    val host = server.substringBeforeLast(':', "")
    val port = server.substringAfterLast(':').toIntOrNull()
    if (host.isEmpty() || port == null || port !in 1..65535) fail(2, "--server $server is not HOST:PORT")
    val trust = try { File(ca).readBytes() } catch (e: java.io.IOException) { fail(2, "--ca $ca: ${e.message}") }

    val now = System.currentTimeMillis().toULong()
    val keystore = SoftwareKeystore()
    // A key kept pending by an earlier run: back into the keystore, named as the pending key.
    val pending = pendingKeyFile(out)
    val pendingKey = if (pending.exists()) {
        val text = pending.readText()
        val privateKey = pemBlock(text, "PRIVATE KEY")
        val publicKey = pemBlock(text, "PUBLIC KEY")
        val imported = try {
            privateKey?.let { keystore.importPkcs8(it) }
        } catch (e: KeystoreException) {
            null
        }
        if (imported == null || publicKey == null || !imported.contentEquals(publicKey)) {
            fail(2, "${pending.path}: not a pending key written by capf enroll (PRIVATE KEY and PUBLIC KEY)", usage = false)
        }
        imported
    } else {
        null
    }
    val phoneOptions = PhoneOptions(sendCertificateRequest = sendCsr, pendingKeySpkiDer = pendingKey)
    val session = try {
        when (val digits = options["--auth-string"]) {
            null -> PhoneSession.withNullString(device, now, phoneOptions)
            else -> PhoneSession.withAuthString(device, digits, now, phoneOptions)
        }
    } catch (e: PhoneException) {
        fail(2, e.message ?: "invalid device or authentication string")
    }
    val outcome = try {
        enroll(host, port.toUShort(), trust, session, KeptKeystore(keystore, pending), LscFile(out, keystore), 30_000uL)
    } catch (e: EnrollException.TlsFailed) {
        fail(1, "$server: ${e.message}")
    } catch (e: EnrollException) {
        fail(2, e.message ?: "cannot enroll", usage = false)
    }
    when (outcome) {
        is PhoneOutcome.Installed -> println("$device: LSC installed; LSC written to ${out.path}")
        is PhoneOutcome.NothingToDo -> println("$device: nothing to do")
        is PhoneOutcome.FetchCompleted -> println("$device: fetch completed")
        is PhoneOutcome.Deleted -> println("$device: LSC deleted")
        is PhoneOutcome.CertificatePending -> {
            println("$device: certificate pending at the CA; the new key is kept in ${pending.path} " +
                "until the certificate arrives (run again once the CA has signed it)")
            exitProcess(PENDING)
        }
        else -> fail(1, "$device: $outcome")
    }
}

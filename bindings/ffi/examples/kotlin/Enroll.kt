// Enrolls this machine as a Cisco IP phone with a CAPF server, through the
// capf Kotlin bindings (org.capf): the blocking `enroll(...)` does the TCP
// and TLS, the software keystore makes the key, and the issued LSC is
// written with its key as PEM. Copy and adapt: on Android, replace
// SoftwareKeystore with an implementation of PhoneKeystore over the
// Android Keystore (see bindings/ffi/README.md).
//
// Usage (through run.sh, which builds what it needs):
//   run.sh --server HOST:PORT --ca CAPF.pem|CTLFile.tlv --device NAME --out LSC.pem [--auth-string DIGITS]
// Exits as `capf enroll` does: 0 installed (or nothing to do), 1 refused,
// 2 bad usage or server unreachable.

import org.capf.*
import java.io.File
import java.security.cert.CertificateFactory
import java.util.Base64
import kotlin.system.exitProcess

const val USAGE = "usage: run.sh --server HOST:PORT --ca CAPF.pem|CTLFile.tlv --device NAME --out LSC.pem [--auth-string DIGITS]"

fun fail(status: Int, message: String, usage: Boolean = status == 2): Nothing {
    System.err.println("Enroll: $message")
    if (usage) System.err.println(USAGE)
    exitProcess(status)
}

fun pem(label: String, der: ByteArray): String =
    "-----BEGIN $label-----\n" + Base64.getMimeEncoder(64, "\n".toByteArray()).encodeToString(der) + "\n-----END $label-----\n"

/** The phone's LSC file (certificate + PKCS#8 key, PEM), as `capf enroll --out` keeps it. */
class LscFile(private val out: File, private val keystore: SoftwareKeystore) : CertificateStore {
    override fun storeCertificate(deviceName: String, certificateDer: ByteArray) {
        val spki = CertificateFactory.getInstance("X.509")
            .generateCertificate(certificateDer.inputStream()).publicKey.encoded
        val key = keystore.exportPkcs8Pem(spki) // the key made for this certificate
        val temporary = File(out.path + ".tmp")
        temporary.writeText(pem("CERTIFICATE", certificateDer) + key)
        if (!temporary.renameTo(out)) throw KeystoreException.Failed("cannot write ${out.path}")
    }

    override fun fetchCertificate(deviceName: String): ByteArray? {
        if (!out.exists()) return null
        val text = out.readText()
        val begin = "-----BEGIN CERTIFICATE-----"
        val end = "-----END CERTIFICATE-----"
        val start = text.indexOf(begin)
        val stop = text.indexOf(end)
        if (start < 0 || stop < start) return null
        return Base64.getMimeDecoder().decode(text.substring(start + begin.length, stop))
    }

    override fun deleteCertificate(deviceName: String): Boolean = out.delete()
}

fun main(args: Array<String>) {
    val options = mutableMapOf<String, String>()
    var i = 0
    while (i < args.size) {
        val name = args[i]
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
    val session = try {
        when (val digits = options["--auth-string"]) {
            null -> PhoneSession.withNullString(device, now)
            else -> PhoneSession.withAuthString(device, digits, now)
        }
    } catch (e: PhoneException) {
        fail(2, e.message ?: "invalid device or authentication string")
    }
    val outcome = try {
        enroll(host, port.toUShort(), trust, session, keystore.asKeystore(), LscFile(out, keystore), 30_000uL)
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
        else -> fail(1, "$device: $outcome")
    }
}

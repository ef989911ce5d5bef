// The runner the Kotlin test files share (scripts/test-kotlin.sh compiles
// them together): one cargo-style line per test, a summary line, and exit
// status 1 when any test failed.

/** Runs the named tests of one file in order; [finish] reports and exits. */
class TestRunner(private val prefix: String, private val label: String) {
    private var passed = 0
    private var failed = 0

    /** Runs [body] as the test `prefix + name`; a throw fails it. */
    fun run(name: String, body: () -> Unit) {
        try {
            body()
            passed++
            println("test $prefix$name ... ok")
        } catch (e: Throwable) {
            failed++
            println("test $prefix$name ... FAILED: $e")
        }
    }

    /** Prints the summary; ends the process with 1 when any test failed. */
    fun finish() {
        println("$label: $passed passed, $failed failed")
        if (failed != 0) kotlin.system.exitProcess(1)
    }
}

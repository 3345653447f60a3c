/* A C program compiled against SSCardDriver.h that calls one function of libSSCardDriver.so and
 * prints "rc=<code>" and "out=<output bytes in hex>" (test_driver.py compares them with the
 * expected GBK strings). Every output buffer is exactly SSCARD_DRIVER_OUT_SIZE bytes from malloc,
 * so AddressSanitizer (the SSCARD_SANITIZE build) sees any write past it; without ASan, guard
 * bytes after the buffer are checked (exit 3 when touched).
 *
 *   driver_cli iReadCardBas TYPE | iCheckCard TYPE | iVerifyPIN TYPE | iChangePIN TYPE
 *   driver_cli iVerifyPin TYPE PIN | iChangePin TYPE OLD NEW
 *   driver_cli iReloadPIN TYPE CARDINFO | iUnblockPIN TYPE CARDINFO
 *   driver_cli iReadCardBas_HSM_Step1 TYPE | iReadCardBas_HSM_Step2 IGNORED KEY
 *   driver_cli hsm TYPE            (Step1, then Step2 with the key read on stdin, one process)
 *   driver_cli null TYPE           (every function with a NULL pOutInfo: each must return -23)
 *   driver_cli threads TYPE N      (N threads call iReadCardBas at once; all must agree) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <SSCardDriver.h>

enum { kGuard = 64 };

static char* newBuffer(void) {
    char* b = malloc(SSCARD_DRIVER_OUT_SIZE + kGuard);
    if (b == NULL) exit(4);
    memset(b, 0x5A, SSCARD_DRIVER_OUT_SIZE + kGuard);
    return b;
}

static int guardIntact(const char* b) {
    for (int i = 0; i < kGuard; ++i) {
        if ((unsigned char)b[SSCARD_DRIVER_OUT_SIZE + i] != 0x5A) return 0;
    }
    return 1;
}

static int report(long rc, char* out) {
    if (!guardIntact(out)) {
        fprintf(stderr, "driver_cli: the library wrote past SSCARD_DRIVER_OUT_SIZE\n");
        return 3;
    }
    size_t n = strnlen(out, SSCARD_DRIVER_OUT_SIZE);
    if (n == SSCARD_DRIVER_OUT_SIZE) {
        fprintf(stderr, "driver_cli: the output is not NUL-terminated within the buffer\n");
        return 3;
    }
    printf("rc=%ld\nout=", rc);
    for (size_t i = 0; i < n; ++i) printf("%02X", (unsigned char)out[i]);
    printf("\n");
    free(out);
    return 0;
}

struct ThreadResult {
    int type;
    long rc;
    char* out;
};

static void* readInThread(void* arg) {
    struct ThreadResult* r = arg;
    r->rc = iReadCardBas(r->type, r->out);
    return NULL;
}

static int threads(int type, int count) {
    struct ThreadResult results[16];
    pthread_t ids[16];
    if (count < 1 || count > 16) return 2;
    for (int i = 0; i < count; ++i) {
        results[i].type = type;
        results[i].out = newBuffer();
        if (pthread_create(&ids[i], NULL, readInThread, &results[i]) != 0) return 4;
    }
    for (int i = 0; i < count; ++i) pthread_join(ids[i], NULL);
    for (int i = 1; i < count; ++i) {
        if (results[i].rc != results[0].rc || strcmp(results[i].out, results[0].out) != 0) {
            fprintf(stderr, "driver_cli: thread %d got %ld, thread 0 got %ld\n", i, results[i].rc,
                    results[0].rc);
            return 5;
        }
        if (!guardIntact(results[i].out)) return 3;
        free(results[i].out);
    }
    return report(results[0].rc, results[0].out);
}

static int nullOutputs(int type) {
    char pin[] = "123456";
    char info[] = "330300D15600000599110145FFFFFFFF|B7K334774|";
    long codes[] = {
        iReadCardBas(type, NULL),         iCheckCard(type, NULL),
        iVerifyPIN(type, NULL),           iChangePIN(type, NULL),
        iVerifyPin(type, pin, NULL),      iChangePin(type, pin, pin, NULL),
        iReloadPIN(type, info, NULL),     iUnblockPIN(type, info, NULL),
        iReadCardBas_HSM_Step1(type, NULL), iReadCardBas_HSM_Step2(info, NULL),
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; ++i) {
        if (codes[i] != -23) {
            fprintf(stderr, "driver_cli: function %zu answered %ld to a NULL pOutInfo\n", i, codes[i]);
            return 5;
        }
    }
    printf("rc=0\nout=\n");
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: driver_cli FUNCTION TYPE [ARGS...]\n");
        return 2;
    }
    const char* fn = argv[1];
    int type = atoi(argv[2]);
    char* out = newBuffer();
    if (strcmp(fn, "iReadCardBas") == 0) return report(iReadCardBas(type, out), out);
    if (strcmp(fn, "iCheckCard") == 0) return report(iCheckCard(type, out), out);
    if (strcmp(fn, "iVerifyPIN") == 0) return report(iVerifyPIN(type, out), out);
    if (strcmp(fn, "iChangePIN") == 0) return report(iChangePIN(type, out), out);
    if (strcmp(fn, "iReadCardBas_HSM_Step1") == 0)
        return report(iReadCardBas_HSM_Step1(type, out), out);
    if (strcmp(fn, "iReadCardBas_HSM_Step2") == 0 && argc == 4)
        return report(iReadCardBas_HSM_Step2(argv[3], out), out);
    if (strcmp(fn, "iVerifyPin") == 0 && argc == 4) return report(iVerifyPin(type, argv[3], out), out);
    if (strcmp(fn, "iChangePin") == 0 && argc == 5)
        return report(iChangePin(type, argv[3], argv[4], out), out);
    if (strcmp(fn, "iReloadPIN") == 0 && argc == 4) return report(iReloadPIN(type, argv[3], out), out);
    if (strcmp(fn, "iUnblockPIN") == 0 && argc == 4)
        return report(iUnblockPIN(type, argv[3], out), out);
    if (strcmp(fn, "hsm") == 0) {
        /* Step 1, its output on stdout, then the HSM's answer (computed by the test) on stdin. */
        long rc = iReadCardBas_HSM_Step1(type, out);
        int status = report(rc, out);
        fflush(stdout);
        if (status != 0 || rc != 0) return status;
        char key[512];
        if (fgets(key, sizeof key, stdin) == NULL) return 2;
        key[strcspn(key, "\n")] = '\0';
        char* out2 = newBuffer();
        return report(iReadCardBas_HSM_Step2(key, out2), out2);
    }
    if (strcmp(fn, "null") == 0) {
        free(out);
        return nullOutputs(type);
    }
    if (strcmp(fn, "threads") == 0 && argc == 4) {
        free(out);
        return threads(type, atoi(argv[3]));
    }
    fprintf(stderr, "driver_cli: unknown function or wrong arguments: %s\n", fn);
    free(out);
    return 2;
}

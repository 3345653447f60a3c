/*
 * SSCardDriver.h: the national social security card reader interface (读写终端接口) on Linux,
 * implemented by libSSCardDriver.so as a client of the sscardd service (docs/driver.md).
 *
 * Every function returns 0 on success and a negative code otherwise (the table in
 * docs/driver.md); on failure pOutInfo holds the reason as text. All strings are GBK.
 *
 * Output buffers: the library writes at most SSCARD_DRIVER_OUT_SIZE bytes into pOutInfo,
 * terminating NUL included, and truncates longer text on a character boundary. The caller's
 * buffer must be at least that large. A NULL pOutInfo is refused (-23) without writing anything.
 *
 * iType: 1 contact, 2 contactless, 3 automatic with contact first, 4 automatic with contactless
 * first; anything else is -23.
 *
 * Thread-safe: each call opens its own connection to sscardd (SSCARD_SOCKET, else
 * /run/sscard/sscardd.sock), so calls survive a restart of the service between them.
 */
#ifndef SSCARD_DRIVER_H
#define SSCARD_DRIVER_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SSCARD_DRIVER_API __attribute__((visibility("default")))
#else
#define SSCARD_DRIVER_API
#endif

/* The size, in bytes, of every output buffer the library writes into. */
#define SSCARD_DRIVER_OUT_SIZE 1024

/* Basic card data: eleven fields, each followed by '|':
 * 区划|社会保障号码|卡号|卡识别码|姓名|卡复位信息|规范版本|发卡日期|卡有效期|终端机编号|终端设备号| */
SSCARD_DRIVER_API long iReadCardBas(int iType, char* pOutInfo);

/* The two-step read of 3rd-generation cards through the hospital's HSM (加密机). Step 1 writes
 * 区划|ATR历史字节|算法标识|卡识别码|内部认证过程因子|内部认证原始信息|外部认证过程因子|外部认证原始信息|终端序列号|
 * for the HSM; Step 2 takes the HSM's answer "<internal result hex>|<external cryptogram hex>|"
 * and writes what iReadCardBas writes. Step 2 continues the last Step 1 of this process. */
SSCARD_DRIVER_API long iReadCardBas_HSM_Step1(int iType, char* pOutInfo);
SSCARD_DRIVER_API long iReadCardBas_HSM_Step2(char* pKey, char* pOutInfo);

/* PIN typed on the reader's PIN pad. */
SSCARD_DRIVER_API long iVerifyPIN(int iType, char* pOutInfo);
SSCARD_DRIVER_API long iChangePIN(int iType, char* pOutInfo);

/* PINs given as arguments (4 to 16 decimal digits). */
SSCARD_DRIVER_API long iVerifyPin(int iType, char* pin, char* pOutInfo);
SSCARD_DRIVER_API long iChangePin(int iType, char* oldPin, char* newPin, char* pOutInfo);

/* Issuer operations (the service's admin role and issuer keys). pCardInfo:
 *   iReloadPIN:  "<卡识别码>|<卡号>|<新密码>|"  (PIN reset: new PIN and retry counter)
 *   iUnblockPIN: "<卡识别码>|<卡号>|"           (retry counter only, the PIN is kept)
 * The card in the reader must carry that 卡识别码 and 卡号 (-22 otherwise) before anything else
 * is done. */
SSCARD_DRIVER_API long iReloadPIN(int iType, char* pCardInfo, char* pOutInfo);
SSCARD_DRIVER_API long iUnblockPIN(int iType, char* pCardInfo, char* pOutInfo);

/* Extension: the frozen-card list's decision for the card, "allow|ok|" or "deny|<reason>|"
 * (reasons: temp_frozen, frozen, replaced, cancelled, card_expired, list_stale, no_list). A deny
 * is a success (0): the decision is the answer. */
SSCARD_DRIVER_API long iCheckCard(int iType, char* pOutInfo);

#ifdef __cplusplus
}
#endif

#endif /* SSCARD_DRIVER_H */

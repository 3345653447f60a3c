// Evaluates systemd/50-sscard-pcscd.rules against a stand-in of polkit's JavaScript API: pcscd's
// two actions are granted to the service user and root only, refused to everyone else, and other
// actions are left to other rules.
"use strict";
const fs = require("fs");
const assert = require("assert");

const rules = [];
const polkit = {
    Result: { YES: "yes", NO: "no", NOT_HANDLED: null },
    addRule: (rule) => rules.push(rule),
};
new Function("polkit", fs.readFileSync(process.argv[2], "utf8"))(polkit);
assert.strictEqual(rules.length, 1);

const decide = (actionId, user) => rules[0]({ id: actionId }, { user: user });
for (const action of ["org.debian.pcsc-lite.access_pcsc", "org.debian.pcsc-lite.access_card"]) {
    assert.strictEqual(decide(action, "sscard"), "yes");
    assert.strictEqual(decide(action, "root"), "yes");
    assert.strictEqual(decide(action, "kiosk"), "no");
    assert.strictEqual(decide(action, "sscard-admin"), "no");
}
assert.strictEqual(decide("org.freedesktop.login1.reboot", "kiosk"), null);
console.log("polkit rule: ok");

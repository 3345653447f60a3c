#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "blacklist/codec.hpp"
#include "blacklist/store.hpp"
#include "test/unit/blacklist/list_gen.hpp"

using namespace sscard;
using namespace sscard::blacklist;

namespace {

struct TempDb {
    std::filesystem::path dir;
    TempDb() {
        dir = std::filesystem::temp_directory_path() /
              ("sscard-store-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
    }
    ~TempDb() { std::filesystem::remove_all(dir); }
    std::filesystem::path db() const { return dir / "list.db"; }
    static int& counter() {
        static int c = 0;
        return c;
    }
};

VersionInfo info(std::int64_t v, std::uint64_t count) {
    VersionInfo i;
    i.version = v;
    i.expires = 2'000'000'000;
    i.feed_time = 1'700'000'000 + v;
    i.now = 1'700'000'100;
    i.count = count;
    i.digest = std::to_string(v);
    i.digest.insert(0, 1, 'd');
    i.key_ids = {"k1", "k2"};
    return i;
}

}  // namespace

TEST_CASE("store: empty list - snapshot apply - lookups by card_id and by region+number") {
    TempDb t;
    auto s = Store::open(t.db());
    REQUIRE(s);
    auto m = s->status();
    REQUIRE(m);
    CHECK(m->version == 0);
    auto list = testgen::makeList(3000);
    REQUIRE(s->applySnapshot(encodeSnapshot(1, list), info(1, list.size())));
    m = s->status();
    CHECK(m->version == 1);
    CHECK(m->count == static_cast<std::int64_t>(list.size()));
    CHECK(m->key_ids == std::vector<std::string>{"k1", "k2"});
    CHECK(m->digest == "d1");
    for (std::size_t i = 0; i < list.size(); i += 97) {
        Entry e = toEntry(list[i]);
        if (e.card_id) {
            auto got = s->lookupCardId(*e.card_id);
            REQUIRE(got);
            REQUIRE(*got);
            CHECK(**got == e);
        } else {
            auto got = s->lookupNumber(e.region, e.card_number);
            REQUIRE(got);
            REQUIRE(*got);
            CHECK(**got == e);
        }
    }
    CardFacts absent{"330300D15600000599110145FFFFFFFF", "330300", "B7K334774", std::nullopt};
    auto none = s->lookup(absent);
    REQUIRE(none);
    CHECK(none->empty());
    CHECK(s->integrityCheck());
}

TEST_CASE("store: delta applies only to its base - lower or equal versions are refused") {
    TempDb t;
    auto s = Store::open(t.db());
    REQUIRE(s);
    auto a = testgen::makeList(2000);
    auto b = testgen::mutate(a, 150);
    REQUIRE(s->applySnapshot(encodeSnapshot(5, a), info(5, a.size())));
    std::vector<Record> rem, ups;
    diffRecords(a, b, rem, ups);
    // wrong base: refused, nothing changes
    auto wrong = s->applyDelta(encodeDelta(6, 4, rem, ups), info(6, b.size()));
    CHECK_FALSE(wrong);
    CHECK(s->status()->version == 5);
    // wrong count: refused
    CHECK_FALSE(s->applyDelta(encodeDelta(6, 5, rem, ups), info(6, b.size() + 1)));
    CHECK(s->status()->version == 5);
    // a delta that removes something missing: refused
    std::vector<Record> rem2 = rem;
    Record ghost;
    ghost.region = 999998;
    ghost.number = 1;
    rem2.push_back(ghost);
    CHECK_FALSE(s->applyDelta(encodeDelta(6, 5, rem2, ups), info(6, b.size() - 1)));
    CHECK(s->status()->count == static_cast<std::int64_t>(a.size()));
    // the right one
    REQUIRE(s->applyDelta(encodeDelta(6, 5, rem, ups), info(6, b.size())));
    CHECK(s->status()->version == 6);
    CHECK(s->status()->count == static_cast<std::int64_t>(b.size()));
    for (const auto& r : ups) {
        Entry e = toEntry(r);
        auto got =
            e.card_id ? s->lookupCardId(*e.card_id) : s->lookupNumber(e.region, e.card_number);
        REQUIRE(got);
        REQUIRE(*got);
        CHECK(**got == e);
    }
    // rollback refusal: same or lower version
    CHECK_FALSE(s->applySnapshot(encodeSnapshot(6, a), info(6, a.size())));
    CHECK_FALSE(s->applySnapshot(encodeSnapshot(3, a), info(3, a.size())));
    CHECK(s->status()->version == 6);
    CHECK(s->status()->count == static_cast<std::int64_t>(b.size()));
    // a corrupt snapshot leaves everything as it was
    Bytes bad = encodeSnapshot(9, a);
    bad[bad.size() - 3] ^= 1;
    CHECK_FALSE(s->applySnapshot(bad, info(9, a.size())));
    CHECK(s->status()->version == 6);
    CHECK(s->status()->count == static_cast<std::int64_t>(b.size()));
    REQUIRE(s->touch(1'800'000'000, "\"etag\""));
    CHECK(s->status()->checked == 1'800'000'000);
    CHECK(s->status()->etag == "\"etag\"");
    CHECK(s->integrityCheck());
}

TEST_CASE("store: number-only entries are found by region, card_id entries are not") {
    TempDb t;
    auto s = Store::open(t.db());
    REQUIRE(s);
    auto list = testgen::makeList(2000);
    REQUIRE(s->applySnapshot(encodeSnapshot(1, list), info(1, list.size())));
    std::string numberOnlyRegion;
    for (const auto& r : list) {
        Entry e = toEntry(r);
        if (!e.card_id && numberOnlyRegion.empty()) numberOnlyRegion = e.region;
    }
    REQUIRE_FALSE(numberOnlyRegion.empty());
    auto found = s->hasNumberOnlyEntries(numberOnlyRegion);
    REQUIRE(found);
    CHECK(*found);
    // a region where the list holds nothing at all
    auto none = s->hasNumberOnlyEntries("999999");
    REQUIRE(none);
    CHECK_FALSE(*none);
    auto bad = s->hasNumberOnlyEntries("not-a-region");
    REQUIRE(bad);
    CHECK_FALSE(*bad);
}

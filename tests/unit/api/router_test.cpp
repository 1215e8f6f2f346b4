#include "surveyd/api/router.hpp"

#include <gtest/gtest.h>

namespace surveyd::api {
namespace {

RouteHandler Answer(int status) {
  return [status](const Call&) { return http::Response::Text(status, ""); };
}

TEST(Router, MatchesLiteralsPlaceholdersAndTheRest) {
  Router router;
  router.Add({"GET", "/api/v1/surveys/{id}", Role::kAnalyst, "", Answer(200)});
  router.Add({"POST", "/api/v1/alerts/{id}/acknowledge", Role::kSupervisor, "", Answer(201)});
  router.Add({"GET", "/s/{*rest}", std::nullopt, "/s/{token}", Answer(202)});

  auto match = router.Find("GET", "/api/v1/surveys/42");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->name, "/api/v1/surveys/{id}") << "the pattern names an unnamed route";
  ASSERT_EQ(match.params.size(), 1u);
  EXPECT_EQ(match.params[0].second, "42");

  match = router.Find("POST", "/api/v1/alerts/a%20b/acknowledge");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.params[0].second, "a b");

  match = router.Find("GET", "/s/TOKEN/stop");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.params[0].second, "TOKEN/stop");
  EXPECT_EQ(match.route->name, "/s/{token}");

  EXPECT_EQ(router.Find("GET", "/api/v1/surveys").route, nullptr);
  EXPECT_EQ(router.Find("GET", "/api/v1/surveys/").route, nullptr) << "an empty id is no id";
  EXPECT_EQ(router.Find("GET", "/api/v1/surveys/1/2").route, nullptr);
  EXPECT_EQ(router.Find("GET", "/s/").route, nullptr);
}

TEST(Router, HeadIsAnsweredAsGetAndAWrongMethodListsTheRightOnes) {
  Router router;
  router.Add({"GET", "/healthz", std::nullopt, "", Answer(200)});
  router.Add({"POST", "/healthz", std::nullopt, "", Answer(200)});
  EXPECT_NE(router.Find("HEAD", "/healthz").route, nullptr);
  auto match = router.Find("DELETE", "/healthz");
  EXPECT_EQ(match.route, nullptr);
  EXPECT_EQ(match.allow, "GET, POST");
  EXPECT_TRUE(router.Find("DELETE", "/nowhere").allow.empty());
}

TEST(Roles, SupervisorsSeeWhatAnalystsSeeAndOnlySafeguardingRevealsNumbers) {
  EXPECT_TRUE(Grants(Role::kSupervisor, Role::kAnalyst));
  EXPECT_FALSE(Grants(Role::kAnalyst, Role::kSupervisor));
  EXPECT_FALSE(Grants(Role::kOps, Role::kAnalyst));
  EXPECT_TRUE(Grants(Role::kAdmin, Role::kOps));
  EXPECT_FALSE(Grants(Role::kAdmin, Role::kSafeguarding));
  EXPECT_TRUE(Grants(Role::kSafeguarding, Role::kSafeguarding));
  for (Role role :
       {Role::kAnalyst, Role::kSupervisor, Role::kOps, Role::kAdmin, Role::kSafeguarding}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role);
  }
  EXPECT_EQ(ParseRole("root"), std::nullopt);
}

}  // namespace
}  // namespace surveyd::api
